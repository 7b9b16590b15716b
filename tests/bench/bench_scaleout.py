"""Scale-out benchmark: N daemon processes on one PostgreSQL and one Chroma server, 200 members in 20 groups
behind a load balancer of webhooks, one process killed with SIGKILL midway.

Prints one JSON line with ``--json``: workers, messages, lost, duplicated, failover_s (from the kill until the
members who were waiting for an answer then were all answered), share_per_worker (fraction of the turns each
process ran) and throughput (answers per second). Targets: 0 lost, 0 duplicated, failover <= 15 s, every process
>= 20 % of the turns.

    teamclaw bench scaleout [--workers 2] [--members 200] [--groups 20] [--messages 4] [--json]
        [--rate 5] [--lease-ttl 6] [--mode webhook|polling] [--database-url postgresql+asyncpg://...] [--chroma-url http://host:8000]
        [--no-memory]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.reliability.scaleout_harness import ScaleoutPlan, run_scaleout
from tests.standins.chroma_server import running_chroma
from tests.standins.postgres import running_postgres

TARGETS = {"lost": 0, "duplicated": 0, "failover_s": 15.0, "min_share": 0.20}


@contextlib.contextmanager
def _database(url: str) -> Iterator[str]:
    if url:
        yield url
        return
    with running_postgres() as server:
        yield server.new_database()


@contextlib.contextmanager
def _chroma(url: str, wanted: bool) -> Iterator[str]:
    if url or not wanted:
        yield url
        return
    with running_chroma() as server:
        yield server.url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--messages", type=int, default=4, help="messages per member (sent two at a time)")
    parser.add_argument("--rate", type=float, default=5.0,
                        help="messages a second offered by all members together (0: as fast as answered)")
    parser.add_argument("--lease-ttl", type=float, default=6.0, help="storage.lease_ttl_s of every process")
    parser.add_argument("--mode", choices=("webhook", "polling"), default="webhook",
                        help="webhook: every process receives behind a balancer; polling: one polls, and is killed")
    parser.add_argument("--database-url", default="", help="use this PostgreSQL database instead of starting one")
    parser.add_argument("--chroma-url", default="", help="use this Chroma server instead of starting one")
    parser.add_argument("--no-memory", action="store_true", help="memory off (no Chroma server)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    if args.workers < 2:
        parser.error("--workers must be at least 2 (one of them is killed)")
    memory = not args.no_memory
    say = None if args.json else (lambda line: print(line, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="teamclaw-scaleout-") as tmp, \
            _database(args.database_url) as database_url, _chroma(args.chroma_url, memory) as chroma_url:
        plan = ScaleoutPlan(workers=args.workers, members=args.members, groups=args.groups,
                            messages_per_member=args.messages, lease_ttl_s=args.lease_ttl, memory=memory,
                            rate=args.rate, mode=args.mode,
                            chroma_url=chroma_url)
        result = asyncio.run(run_scaleout(plan, Path(tmp), database_url, say=say))
    figures = result.figures()
    met = (result.lost == TARGETS["lost"] and result.duplicated == TARGETS["duplicated"]
           and result.failover_s is not None and result.failover_s <= TARGETS["failover_s"]
           and min(result.share_per_worker) >= TARGETS["min_share"])
    figures.update(mode=args.mode, lease_ttl_s=args.lease_ttl, offered_rate=args.rate, memory=memory,
                   targets_met=met)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")
        print(f"{'targets':>20}: 0 lost, 0 duplicated, failover <= 15 s, every process >= 20 % of the turns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
