"""The full crash run: ``python -m tests.reliability.crash_run --kills 50`` prints what the crash suite measured.

It starts the real daemon against the stand-in Telegram and model servers, SIGKILLs it ``--kills`` times at
random points while members keep writing and jobs come due, restarts it each time, drains everything in one
clean final run, and checks that nothing was lost, nothing answered twice, only in-flight sends repeated, every
due job ran and was delivered once, and the database is intact. Exit status 1 when a guarantee was broken.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.bench.common import print_figures
from tests.reliability.crash_harness import CrashPlan, run_crash_suite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = CrashPlan()
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--members", type=int, default=defaults.members)
    parser.add_argument("--chats", type=int, default=defaults.chats)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="messages per second offered")
    parser.add_argument("--max-up", type=float, default=defaults.max_up_s,
                        help="longest time a run lives after it is ready, in seconds")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (logs, database)")
    args = parser.parse_args(argv)
    plan = CrashPlan(kills=args.kills, members=args.members, chats=args.chats, rate=args.rate, max_up_s=args.max_up,
                     seed=args.seed)

    async def go(workdir: Path) -> int:
        report = await run_crash_suite(plan, workdir, say=lambda line: print(line, flush=True))
        print_figures(f"crash suite: {plan.kills} kills, seed {plan.seed}", report.figures)
        for violation in report.violations:
            print(f"VIOLATION: {violation}")
        print("\nall guarantees held" if not report.violations else f"\n{len(report.violations)} violation(s)")
        return 1 if report.violations else 0

    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return asyncio.run(go(args.keep))
    with tempfile.TemporaryDirectory(prefix="teamclaw-crash-") as tmp:
        return asyncio.run(go(Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
