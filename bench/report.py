"""The P1–P6 table on stdout, `report.json` for other tools, and a PNG plot."""

from __future__ import annotations

import json
from pathlib import Path

GOALS = {
    "P1": "≥ 0.5×",
    "P2": "≥ 0.5×",
    "P3": "≤ 3×",
    "P4": "≥ 1.6×",
    "P5": "queued ≤ 1 s, all ≤ 60 s, hanging p99 ≤ 1.10×",
    "P6": "≤ 120 s",
}
TITLES = {
    "P1": "pledge API (wrk) vs bare insert",
    "P2": "pipeline burst vs bare consume→produce",
    "P3": "e2e p99 POST→webhook vs bare Kafka",
    "P4": "projects workers 2 vs 1",
    "P5": "fan-out: all delivered, vs bare client",
    "P6": "FTS import: a year's flows, vs bare copy",
}


def figure(bare: float, platform: float, unit: str, **extra) -> dict:
    return {
        "bare": bare,
        "platform": platform,
        "ratio": round(platform / bare, 3) if bare else None,
        "unit": unit,
    } | extra


def summary(raw: dict) -> dict:
    """One object per figure: {"bare", "platform", "ratio" (platform / bare), "unit", …details}."""
    out = {}
    if "P1" in raw:
        b, p = raw["P1"]["bare"], raw["P1"]["platform"]
        out["P1"] = figure(b["per_second"], p["per_second"], "requests/s", wrk_cpu_share=p["wrk_cpu_share"],
                           bare_wrk_cpu_share=b["wrk_cpu_share"], alone_per_second=p.get("alone_per_second"),
                           mean_batch=p.get("mean_batch"), cpu_ms_per_request=p.get("cpu_ms_per_request"),
                           alone_cpu_ms_per_request=p.get("alone_cpu_ms_per_request"),
                           bare_cpu_ms_per_request=b.get("cpu_ms_per_request"),
                           p50_ms=p.get("p50_ms"), p99_ms=p.get("p99_ms"), bare_p99_ms=b.get("p99_ms"))  # fmt: skip
    if "P2" in raw:
        b, p = raw["P2"]["bare"], raw["P2"]["platform"]
        out["P2"] = figure(b["per_second"], p["per_second"], "agreements/s", p99_ms=p["p99_ms"],
                           intake_per_second=p.get("intake_per_second"),
                           cpu_ms_per_agreement=p.get("cpu_ms_per_agreement"),
                           machine_cpu_busy=p.get("machine_cpu_busy"))  # fmt: skip
    if "P3" in raw:
        b, p = raw["P3"]["bare"], raw["P3"]["platform"]
        idle = raw["P3"].get("unloaded") or {}
        out["P3"] = figure(b["p99_ms"], p["p99_ms"], "ms (p99)", rate_per_second=p["rate"], p50_ms=p["p50_ms"],
                           cpu_ms_per_agreement=p.get("cpu_ms_per_agreement"),
                           machine_cpu_busy=p.get("machine_cpu_busy"), unloaded_rate=idle.get("rate"),
                           unloaded_p50_ms=idle.get("p50_ms"), unloaded_p99_ms=idle.get("p99_ms"),
                           hops=p.get("hops"), unloaded_hops=idle.get("hops"),
                           bare_two_hops_p99_ms=(raw["P3"].get("bare_two_hops") or {}).get("p99_ms"))  # fmt: skip
    if "P4" in raw:
        b, p = raw["P4"]["bare"], raw["P4"]["platform"]
        out["P4"] = figure(b["per_second"], p["per_second"], "agreements/s (1 → 2 workers)",
                           bare_machine_cpu_busy=b.get("machine_cpu_busy"),
                           machine_cpu_busy=p.get("machine_cpu_busy"),
                           published_per_second=min(b.get("published_per_second") or 0,
                                                    p.get("published_per_second") or 0) or None)  # fmt: skip
    if "P5" in raw:
        b, p, h = raw["P5"]["bare"], raw["P5"]["platform"], raw["P5"]["one partner hanging"]
        out["P5"] = figure(b["all_s"], p["all_s"], "s until all delivered", subscriptions=p["count"],
                           queued_s=p["queued_s"], first_s=p["first_s"], p99_s=round(p["p99_ms"] / 1000, 2),
                           hanging_p99_s=round(h["p99_ms"] / 1000, 2),
                           hanging_ratio=round(h["p99_ms"] / p["p99_ms"], 3),
                           bare_wrk_s=(raw["P5"].get("bare_wrk") or {}).get("all_s"))  # fmt: skip
    if "P6" in raw:
        b, p = raw["P6"]["bare"], raw["P6"]["platform"]
        out["P6"] = figure(b["seconds"], p["seconds"], "s to import and settle", flows=p["flows"],
                           imported_in_seconds=p["imported_in_seconds"],
                           machine_cpu_busy=p.get("machine_cpu_busy"))  # fmt: skip
    return out


def _per_service(cpu: dict | None) -> str:
    return ", ".join(f"{name} {ms}" for name, ms in (cpu or {}).items()) or "-"


def _busy(figure: dict) -> str:
    busy = figure.get("machine_cpu_busy")
    return f"{busy:.0%}" if busy is not None else "-"


def _p1(f: dict) -> str:
    grouped = ""
    if f.get("alone_per_second"):
        grouped = (
            f"; each request committing alone (AID_GROUP_COMMIT=false) {f['alone_per_second']} requests/s, "
            f"with group commit {f['platform']} (mean batch {f.get('mean_batch')}); server CPU per request: "
            f"bare {f.get('bare_cpu_ms_per_request')} ms, alone {f.get('alone_cpu_ms_per_request')} ms, "
            f"grouped {f.get('cpu_ms_per_request')} ms"
        )
    return (
        f"wrk used {f['bare_wrk_cpu_share']:.1%} of the machine's CPU against the bare endpoint, "
        f"{f['wrk_cpu_share']:.1%} against the platform{grouped}"
    )


def _p2(f: dict) -> str | None:
    if f.get("intake_per_second") is None:
        return None
    return (
        f"wrk sent the burst; the API answered it at {f['intake_per_second']} agreements/s; "
        f"CPU ms per agreement {_per_service(f.get('cpu_ms_per_agreement'))}, machine {_busy(f)} busy"
    )


def _p3(f: dict) -> str | None:
    if f.get("cpu_ms_per_agreement") is None:
        return None
    floor = (
        f"; at {f['unloaded_rate']:g}/s (idle machine) p50 {f['unloaded_p50_ms']} ms, p99 {f['unloaded_p99_ms']} ms"
        if f.get("unloaded_p99_ms") is not None
        else ""
    )
    return (
        f"{f['rate_per_second']} agreements/s, p50 {f['p50_ms']} ms; "
        f"CPU ms per agreement {_per_service(f['cpu_ms_per_agreement'])}, machine {_busy(f)} busy{floor}"
        f"{_p3_goals(f)}"
        f"{_hop_line('hops p50/p99 ms under load', f.get('hops'))}{_hop_line('idle', f.get('unloaded_hops'))}"
    )


def _p3_goals(f: dict) -> str:
    """The issue's two P3 goals: idle p99 against the bare two-hop chain (≤ 3×), loaded p99 against idle (≤ 5×)."""
    two, idle, loaded = f.get("bare_two_hops_p99_ms"), f.get("unloaded_p99_ms"), f.get("platform")
    if not (two and idle and loaded):
        return ""
    return (
        f"; goals: idle p99 {idle} ms vs bare two-hop chain {two} ms = {idle / two:.1f}× (≤ 3×), "
        f"loaded p99 vs idle = {loaded / idle:.1f}× (≤ 5×)"
    )


def _hop_line(title: str, hops: dict | None) -> str:
    if not hops:
        return ""
    return f"; {title}: " + ", ".join(f"{k} {v['p50_ms']}/{v['p99_ms']}" for k, v in hops.items())


def _p4(f: dict) -> str | None:
    if f.get("machine_cpu_busy") is None:
        return None
    relay = f.get("published_per_second")
    return (
        f"the machine's CPUs were {f['bare_machine_cpu_busy']:.0%} busy while one worker drained, "
        f"{f['machine_cpu_busy']:.0%} with two"
        + (f"; the backlog reached Kafka at {relay:.0f}/s or faster (not the bound)" if relay else "")
    )


def _p5(f: dict) -> str:
    return (
        f"{f['subscriptions']} deliveries queued in {f['queued_s']} s, first webhook {f['first_s']} s, "
        f"p99 {f['p99_s']} s; with one partner hanging p99 {f['hanging_p99_s']} s ({f['hanging_ratio']:.2f}×); "
        f"the same webhooks from wrk (C) all received in {f.get('bare_wrk_s')} s"
    )


def _p6(f: dict) -> str:
    return (
        f"{f['flows']} flows: every import answered in {f['imported_in_seconds']} s, the plan table final at "
        f"{f['platform']} s; machine {_busy(f)} busy"
    )


NOTES = {
    "P1": _p1,
    "P2": _p2,
    "P3": _p3,
    "P4": _p4,
    "P5": _p5,
    "P6": _p6,
}  # a line under the table, when the run says it


def table(figures: dict) -> str:
    lines = [f"{'':4} {'figure':42} {'bare':>10} {'platform':>10} {'ratio':>8}  {'unit':30} goal"]
    for key, f in figures.items():
        ratio = f"{f['ratio']:.2f}×" if f["ratio"] is not None else "-"
        lines.append(
            f"{key:4} {TITLES[key]:42} {f['bare']:>10} {f['platform']:>10} {ratio:>8}  {f['unit']:30} {GOALS[key]}"
        )
    for key, note in NOTES.items():
        text = note(figures[key]) if key in figures else None
        if text:
            lines.append(f"     {key}: {text}")
    return "\n".join(lines)


def write(out: Path, raw: dict, figures: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(figures, indent=2) + "\n")
    (out / "raw.json").write_text(json.dumps(raw, indent=2) + "\n")
    (out / "table.txt").write_text(table(figures) + "\n")
    plot(out / "report.png", raw, figures)


def plot(path: Path, raw: dict, figures: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(16, 4.8))
    bars = [k for k in ("P1", "P2", "P4") if k in figures]
    x = range(len(bars))
    a.bar([i - 0.2 for i in x], [figures[k]["bare"] for k in bars], 0.4, label="bare baseline", color="#9aa5b1")
    a.bar([i + 0.2 for i in x], [figures[k]["platform"] for k in bars], 0.4, label="platform", color="#c0392b")
    a.set_xticks(list(x), [f"{k}\n{figures[k]['unit']}" for k in bars], fontsize=8)
    a.set_yscale("log")
    a.set_title("Throughput (per second, log scale)")
    a.legend()
    if "P3" in raw:
        pct = ["p50_ms", "p95_ms", "p99_ms"]
        for side, colour in (("bare", "#9aa5b1"), ("platform", "#c0392b")):
            b.plot([p[:3] for p in pct], [raw["P3"][side][p] for p in pct], marker="o", label=side, color=colour)
        b.set_yscale("log")
        b.set_title(f"P3 latency at {raw['P3']['platform']['rate']}/s (ms, log scale)")
        b.legend()
    if "P5" in raw:
        for side, colour in (("bare", "#9aa5b1"), ("platform", "#c0392b"), ("one partner hanging", "#e67e22")):
            curve = raw["P5"][side]["curve"]
            c.plot(curve, range(1, len(curve) + 1), label=side, color=colour)
        c.set_xlabel("seconds after the event")
        c.set_ylabel("webhooks delivered")
        c.set_title("P5 fan-out: one event, every subscription")
        c.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
