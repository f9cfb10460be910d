"""`make bench`: P1–P6, each against its bare baseline, in one run on this machine.

P1 pledge API vs bare insert (wrk) · P2 pipeline burst vs bare consume → produce · P3 e2e p99 POST → webhook
at half P2's rate vs bare Kafka produce → consume · P4 projects workers 1 → 2 · P5 fan-out to N subscriptions
vs a bare client · P6 a year of FTS flows imported and settled vs a bare copy of the same files. Needs
`make infra-up` and wrk. Prints a table; writes bench/out/report.json, raw.json, table.txt and report.png.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench import api, fanout, fts, pipeline, report, wrk
from bench.run import Run

ALL = ("P1", "P2", "P3", "P4", "P5", "P6")
UNLOADED_RATE = 5.0  # agreements/s for P3's floor


async def measure(args: argparse.Namespace, only: set[str]) -> dict:
    run = Run()
    raw: dict = {}
    try:
        if "P1" in only:
            raw["P1"] = await api.measure(run, seconds=args.seconds, connections=args.connections)
        if only & {"P2", "P3"}:
            bare = await pipeline.bare_burst(run, args.events, args.connections)
            ours = await pipeline.burst(run, args.events, args.connections)
            raw["P2"] = {"bare": bare, "platform": ours}
        if "P3" in only:
            rate = max(1.0, round(raw["P2"]["platform"]["per_second"] / 2, 1))
            raw["P3"] = {
                "bare": await pipeline.bare_paced(rate, args.paced_seconds),
                "platform": await pipeline.webhook_paced(run, rate, args.paced_seconds),
                # The same path on an idle machine: what the pipeline itself takes, apart from queueing — and the
                # bare chain of two consume → produce hops it is held against.
                "unloaded": await pipeline.webhook_paced(run, UNLOADED_RATE, args.paced_seconds / 2),
                "bare_two_hops": await pipeline.bare_two_hops(run, UNLOADED_RATE, args.paced_seconds / 2),
            }
        if "P4" in only:
            raw["P4"] = {
                "bare": await pipeline.drain(run, args.backlog, 1, args.connections),
                "platform": await pipeline.drain(run, args.backlog, 2, args.connections),
            }
        if "P5" in only:
            raw["P5"] = await fanout.measure(run, args.subscriptions)
        if "P6" in only:
            raw["P6"] = await fts.measure(run, args.fts_copies)
    finally:
        await run.close()
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(ALL), help="figures to measure, e.g. P1,P5")
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per side (P1)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--events", type=int, default=500, help="burst size (P2)")
    parser.add_argument("--paced-seconds", type=float, default=20, help="P3 duration")
    parser.add_argument("--backlog", type=int, default=3000, help="agreements drained (P4)")
    parser.add_argument("--subscriptions", type=int, default=10_000, help="subscriptions matched (P5)")
    parser.add_argument("--fts-copies", type=int, default=59, help="copies of the 424 PSE flows imported (P6)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("out"))
    args = parser.parse_args()
    only = {x.strip().upper() for x in args.only.split(",")}
    if "P1" in only:
        wrk.available()
    raw = asyncio.run(measure(args, only))
    figures = report.summary(raw)
    print(report.table(figures))
    report.write(args.out, raw, figures)
    print(f"\nwrote {args.out}/report.json, raw.json, table.txt, report.png")


if __name__ == "__main__":
    main()
