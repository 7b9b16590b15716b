"""Helpers shared by the benchmark scripts: percentiles, RSS sampling, a throwaway home with a config."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psutil
import tomli_w

__all__ = ["RssSampler", "bench_home", "percentile", "print_figures"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class RssSampler:
    """Samples this process's resident memory while a benchmark runs."""

    def __init__(self, every_s: float = 0.05) -> None:
        self._proc = psutil.Process()
        self._every = every_s
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def now_mb(self) -> float:
        return float(self._proc.memory_info().rss) / 2**20

    async def _run(self) -> None:
        while True:
            self.samples.append(self.now_mb())
            await asyncio.sleep(self._every)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RssSampler]:
        self._task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def peak_mb(self) -> float:
        return max(self.samples, default=self.now_mb())


@contextlib.contextmanager
def bench_home(config: dict[str, Any]) -> Iterator[Path]:
    """A temporary TEAMCLAW_HOME holding ``config`` as teamclaw.toml; yields the config path."""
    with tempfile.TemporaryDirectory(prefix="teamclaw-bench-") as tmp:
        home = Path(tmp)
        path = home / "teamclaw.toml"
        path.write_text(tomli_w.dumps({"home": str(home), **config}), encoding="utf-8")
        old = os.environ.get("TEAMCLAW_HOME")
        os.environ["TEAMCLAW_HOME"] = str(home)
        try:
            yield path
        finally:
            if old is None:
                os.environ.pop("TEAMCLAW_HOME", None)
            else:
                os.environ["TEAMCLAW_HOME"] = old


def print_figures(title: str, figures: dict[str, Any],
                  targets: dict[str, tuple[float, bool]] | None = None) -> None:
    """One figure a line; beside those in ``targets`` (name -> (limit, lower is better)) the target, met or not."""
    print(f"\n== {title} ==")
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        target = (targets or {}).get(key)
        if target is not None and isinstance(value, int | float):
            limit, lower = target
            met = value <= limit if lower else value >= limit
            shown = f"{shown:<12} target {'<=' if lower else '>='} {limit:g}  {'met' if met else 'NOT MET'}"
        print(f"  {key.ljust(width)}  {shown}")


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")
