"""``teamclaw bench PROFILE``: runs one of the benchmark scripts of a source checkout and passes its options on.

The benchmarks drive the real daemon against stand-in Telegram, Feishu and model servers that live in the test
tree, so they need a checkout of the repository (``git clone`` and ``pip install -e .``), not an installed wheel.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from assistant.errors import ConfigError

__all__ = ["PROFILES", "bench_script", "register"]

# profile -> (module under tests/bench, arguments put before the ones the user passes)
PROFILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "core": ("bench_core", ()),
    "channels": ("bench_channels", ()),
    "burst": ("bench_load", ("burst",)),
    "steady": ("bench_load", ("steady",)),
    "soak": ("bench_load", ("soak",)),
    "memory": ("bench_memory", ()),
    "routing": ("bench_routing", ()),
    "scheduler": ("bench_scheduler", ()),
    "local": ("bench_local_models", ()),
    "scaleout": ("bench_scaleout", ()),
    "lean": ("bench_lean", ()),
    "media": ("bench_media", ()),
}
_CHECKOUT = Path(__file__).resolve().parents[2]


def bench_script(profile: str, checkout: Path = _CHECKOUT) -> tuple[Path, str, tuple[str, ...]]:
    """(checkout root, module to run, leading args) for a profile; raises ConfigError saying what to do."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown benchmark profile {profile!r}: choose one of {', '.join(PROFILES)}")
    module, lead = PROFILES[profile]
    script = checkout / "tests" / "bench" / f"{module}.py"
    if not script.is_file():
        if (checkout / "tests" / "bench").is_dir():
            raise ConfigError(f"this checkout has no tests/bench/{module}.py: update it (git pull) to run "
                              f"the {profile!r} benchmark")
        raise ConfigError("`teamclaw bench` runs the benchmark scripts of a source checkout, which an installed "
                          "package does not carry: clone the teamclaw repository, `pip install -e .` in it, and "
                          "run `teamclaw bench` from that environment")
    return checkout, f"tests.bench.{module}", lead


def bench(
    ctx: typer.Context,
    profile: Annotated[str, typer.Argument(help=f"One of: {', '.join(PROFILES)}.")],
) -> None:
    """Run a benchmark profile and print its figures.

    Options after the profile go to the benchmark script, e.g. `teamclaw bench steady --duration 1800`;
    `teamclaw bench PROFILE --help` lists them."""
    if profile in ("-h", "--help"):  # help after the profile belongs to the script, so it is handled here
        typer.echo(ctx.get_help())
        raise typer.Exit()
    root, module, lead = bench_script(profile)
    code = subprocess.call([sys.executable, "-m", module, *lead, *ctx.args], cwd=root)
    if code != 0:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                  "help_option_names": []})(bench)
