// The live feed: server-sent events appended as list items. Text only (textContent), never HTML. Codes, times and
// amounts are isolated left to right (bdi dir=ltr) so that an Arabic page cannot reorder them.
(function () {
  const list = document.getElementById("feed");
  if (!list || !window.EventSource) return;
  const lang = document.documentElement.lang;
  const source = new EventSource("/feed/events");
  const part = (tag, text, ltr) => {
    const el = document.createElement(tag);
    if (ltr) el.dir = "ltr";
    el.textContent = text;
    return el;
  };
  source.addEventListener("aid", (message) => {
    const e = JSON.parse(message.data);
    const item = document.createElement("li");
    item.className = "event";
    const own = e.names && e.names[lang];
    const name = part("span", own || e.title || "", false);
    if (!own && lang !== "en") name.lang = "en";
    // the amount arrives as a decimal string: shown as sent, never through a float
    const pieces = [part("bdi", e.time.slice(0, 19).replace("T", " "), true), part("bdi", e.type, true),
      part("bdi", e.what || "", true), name];
    if (e.amount_usd) pieces.push(part("bdi", "USD " + e.amount_usd, true));
    if (e.correlation_id) pieces.push(part("bdi", e.correlation_id, true));
    pieces.forEach((p, i) => {
      if (i) item.append(" · ");
      item.append(p);
    });
    list.prepend(item);
  });
  // The token expired or was revoked: stop reconnecting and sign in again.
  source.addEventListener("signin", () => {
    source.close();
    window.location.assign("/signin");
  });
})();
