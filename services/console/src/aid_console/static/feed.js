// The live feed: server-sent events appended as list items. Text only (textContent), never HTML.
(function () {
  const list = document.getElementById("feed");
  if (!list || !window.EventSource) return;
  const lang = document.documentElement.lang;
  const source = new EventSource("/feed/events");
  source.addEventListener("aid", (message) => {
    const e = JSON.parse(message.data);
    const item = document.createElement("li");
    item.className = "event";
    const name = (e.names && e.names[lang]) || e.title || "";
    const amount = e.amount_usd ? " USD " + Number(e.amount_usd).toLocaleString(lang === "ar" ? "ar" : "en") : "";
    item.textContent = e.time.slice(0, 19).replace("T", " ") + " · " + e.type + " · " + e.what + " " + name + amount +
      (e.correlation_id ? " · " + e.correlation_id : "");
    list.prepend(item);
  });
  // The token expired or was revoked: stop reconnecting and sign in again.
  source.addEventListener("signin", () => {
    source.close();
    window.location.assign("/signin");
  });
})();
