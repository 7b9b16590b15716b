"""The command table: `--version` and `--help` import no command module, each command loads only its own, and
the table's help lines say what the commands' docstrings say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli.main import COMMANDS, app, load_command

# What the quick paths must not pull in: the command modules and the heavy libraries behind them.
_HEAVY = ("assistant.cli.core", "assistant.config", "assistant.storage", "sqlalchemy", "alembic", "chromadb",
          "numpy", "httpx", "pydantic", "rich")

_PROBE = """
import json, sys
from assistant.cli.main import main
sys.argv = ["teamclaw", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
# A None entry marks a module kept out on purpose (assistant.lean_imports), not one imported.
print(json.dumps({"code": code, "modules": sorted(k for k, v in sys.modules.items() if v is not None)}))
"""


def _imported(*args: str, home: Path) -> tuple[int, set[str], str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TEAMCLAW_HOME": str(home)}, check=False)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return int(report["code"] or 0), set(report["modules"]), done.stdout


def _loaded(modules: set[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in modules)


def test_version_and_help_import_no_command_module(tmp_path: Path) -> None:
    for args in (["--version"], ["--help"], []):
        code, modules, out = _imported(*args, home=tmp_path)
        assert code in ((0, 2) if not args else (0,)), out  # bare `teamclaw` shows the help as a usage error
        assert not [name for name in _HEAVY if _loaded(modules, name)], args
    _, _, listing = _imported("--help", home=tmp_path)
    assert all(name in listing for name in COMMANDS)


def test_a_command_loads_its_own_module_and_not_the_others(tmp_path: Path) -> None:
    code, modules, out = _imported("usage", "--help", home=tmp_path)
    assert code == 0 and "Show model usage" in out
    assert _loaded(modules, "assistant.cli.usage_cmd")
    assert not any(_loaded(modules, m) for m in ("assistant.cli.backup", "assistant.cli.onboard",
                                                  "assistant.cli.service", "assistant.cli.memory_cmd"))


def test_the_table_says_what_each_command_says_of_itself() -> None:
    for name, (_, help_line) in COMMANDS.items():
        command = load_command(name)
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert first == help_line, name


def test_usage_errors_are_one_message_and_exit_code_2() -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["nosuch"])
    assert unknown.exit_code == 2 and "No such command 'nosuch'" in unknown.output
    bad_option = runner.invoke(app, ["chat", "--bogus"])
    assert bad_option.exit_code == 2 and "No such option: --bogus" in bad_option.output
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("teamclaw ")
