"""`teamclaw memory ...` through typer's runner, on a real config, database and chroma under a temp home."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import pytest
import typer
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session as SyncSession
from typer.testing import CliRunner

from assistant.cli import memory_cmd
from assistant.errors import ScopeError
from assistant.privacy import DETECTOR_VERSION
from assistant.storage.tables import Identity, Member
from memory.tables import MemoryRecord

LINES = [
    {"speaker": "Alice", "text": "I prefer oat milk in my coffee.", "timestamp": "2025-03-03T09:00:00Z",
     "conversation_id": "c1", "extra": "ignored"},
    {"speaker": "Bob", "text": "The quarterly planning doc is in the shared drive under /plans/q2.",
     "timestamp": 1741000000, "conversation_id": "c1"},
    {"speaker": "Alice", "text": "我下周去上海出差。", "timestamp": "2025-03-04T10:00:00+08:00",
     "conversation_id": "c2"},
]


@pytest.fixture
def cli(tmp_path: Path) -> tuple[CliRunner, typer.Typer, list[str]]:
    app = typer.Typer()
    memory_cmd.register(app)
    home = tmp_path / "home"
    home.mkdir()
    config = home / "teamclaw.toml"
    config.write_text(f'home = "{home.as_posix()}"\n', encoding="utf-8")
    return CliRunner(), app, ["--config", str(config)]


def _run(cli: tuple[CliRunner, typer.Typer, list[str]], *args: str, stdin: str | None = None) -> Any:
    runner, app, cfg = cli
    result = runner.invoke(app, ["memory", *args, *cfg], input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _jsonl(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_ingest_then_search_round_trip(cli: Any, tmp_path: Path) -> None:
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in LINES[:2]) + "\nnot json\n" + \
        json.dumps({"speaker": "Carol"}) + "\n" + json.dumps(LINES[2], ensure_ascii=False) + "\n"
    result = _run(cli, "ingest", "--scope", "member:alice", stdin=stdin)
    assert result.exit_code == 0
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["ingested"] == 3 and summary["skipped"] == 2 and summary["facts"] == 1
    assert summary["members_created"] == 2
    assert "line 3: not valid JSON" in result.stderr and 'line 4: "text" must be' in result.stderr

    engine = create_engine(f"sqlite:///{tmp_path / 'home' / 'teamclaw.db'}")
    with SyncSession(engine) as session:
        assert sorted(m.name for m in session.scalars(select(Member))) == ["Bob", "alice"]
        assert {i.channel for i in session.scalars(select(Identity))} == {"cli"}
    engine.dispose()

    hits = _jsonl(_run(cli, "search", "--scope", "member:alice", "-k", "3", "where is the planning document?").stdout)
    assert hits[0]["text"].startswith("Bob: The quarterly planning doc")  # speaker kept in the stored text
    assert hits[0]["conversation_id"] == "c1" and hits[0]["rank"] == 1 and hits[0]["score"] > 0

    queries = json.dumps({"query": "Alice 什么时候出差？", "id": "q1"}) + "\n" + \
        json.dumps({"query": "what milk does Alice like", "id": "q2"}) + "\n"
    rows = _jsonl(_run(cli, "search", "--scope", "member:alice", "-k", "2", stdin=queries).stdout)
    first = {r["query_id"]: r for r in rows if r["rank"] == 1}
    assert "上海" in first["q1"]["text"] and "oat milk" in first["q2"]["text"]

    assert _jsonl(_run(cli, "search", "--scope", "team", "oat milk").stdout) == []  # private stays private
    with pytest.raises(ScopeError, match=r"no member 'nobody'.*member:alice"):  # main(): one line, exit 2
        _run(cli, "search", "--scope", "member:nobody", "milk")


def test_export_edit_import_round_trip(cli: Any, tmp_path: Path) -> None:
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in LINES) + "\n"
    _run(cli, "ingest", "--scope", "group:telegram:-100team", "--no-extract", stdin=stdin)
    _run(cli, "ingest", "--scope", "team", "--no-extract",
         stdin=json.dumps({"speaker": "Bob", "text": "Deploys happen on Tuesdays."}) + "\n")
    out = tmp_path / "export"
    assert _jsonl(_run(cli, "export", str(out)).stdout)[0]["exported"] == 4
    assert sorted(p.name for p in out.iterdir()) == ["group-telegram--100team.md", "team.md"]

    team = out / "team.md"
    team.write_text(team.read_text(encoding="utf-8").replace("Tuesdays", "Wednesdays")
                    + "\n## new fact\nThe office closes at 8pm.\n", encoding="utf-8")
    report = _jsonl(_run(cli, "import", str(out)).stdout)[0]
    assert report == {"updated": 1, "created": 1, "unchanged": 3}
    viewer = "member:alice@group:telegram:-100team"
    hits = _jsonl(_run(cli, "search", "--scope", viewer, "-k", "2", "which day are deploys?").stdout)
    assert hits[0]["text"] == "Bob: Deploys happen on Wednesdays."
    closes = _jsonl(_run(cli, "search", "--scope", "team", "-k", "1", "when does the office close").stdout)
    assert closes[0]["text"] == "The office closes at 8pm."

    # Into a fresh home: the same records, in the same places.
    fresh_home = tmp_path / "fresh"
    fresh_home.mkdir()
    (fresh_home / "teamclaw.toml").write_text(f'home = "{fresh_home.as_posix()}"\n', encoding="utf-8")
    fresh = (cli[0], cli[1], ["--config", str(fresh_home / "teamclaw.toml")])
    assert _jsonl(_run(fresh, "import", str(out)).stdout)[0]["created"] == 5
    listed = _jsonl(_run(fresh, "list", "--scope", "group:telegram:-100team").stdout)
    assert {r["visibility"] for r in listed} == {"group", "team"} and len(listed) == 5


def test_records_are_judged_at_the_configured_privacy_settings_and_again_when_an_import_edits_them(
        cli: Any, tmp_path: Path) -> None:
    config = Path(cli[2][1])
    config.write_text(config.read_text(encoding="utf-8") + "\n[routing]\nprivacy_threshold = 0.99\n", encoding="utf-8")
    mum = "my mum's MRI is on Friday and I am worried about the results"  # context only, ~0.97 by default
    _run(cli, "ingest", "--scope", "team", "--no-extract", stdin=json.dumps({"speaker": "Bob", "text": mum}) + "\n")

    def stored() -> tuple[bool, str, str]:
        engine = create_engine(f"sqlite:///{tmp_path / 'home' / 'teamclaw.db'}")
        with SyncSession(engine) as session:
            row = session.scalars(select(MemoryRecord)).one()
            found = (row.private, row.sensitive_kinds, row.detector_version)
        engine.dispose()
        return found

    assert stored() == (False, "", f"{DETECTOR_VERSION}/t0.99/n-grams")  # a bulk ingest: n-grams, at 0.99
    out = tmp_path / "export"
    _run(cli, "export", str(out))
    team = out / "team.md"
    team.write_text(team.read_text(encoding="utf-8").replace("results", "results, call me on 13812345678"),
                    encoding="utf-8")
    assert _jsonl(_run(cli, "import", str(out)).stdout)[0]["updated"] == 1
    private, kinds, version = stored()  # new words, judged again by the whole detector
    assert private and "phone" in kinds.split(",") and version == f"{DETECTOR_VERSION}/t0.99"


def test_forget_show_and_rebuild(cli: Any) -> None:
    _run(cli, "ingest", "--scope", "member:alice", stdin=json.dumps(LINES[0]) + "\n")
    rows = _jsonl(_run(cli, "list", "--scope", "member:alice").stdout)
    shown = _jsonl(_run(cli, "show", str(rows[0]["id"]), "--scope", "member:alice").stdout)[0]
    assert shown["vector_state"] == "synced"
    assert _jsonl(_run(cli, "rebuild").stdout)[0]["reembedded"] == len(rows)
    assert _jsonl(_run(cli, "forget", "--scope", "member:alice", "--query", "oat milk").stdout)[0]["forgotten"] == 2
    assert _jsonl(_run(cli, "search", "--scope", "member:alice", "oat milk").stdout) == []


def test_scope_syntax() -> None:
    assert memory_cmd.parse_scope("team") == memory_cmd.ScopeSpec(None, None, True)
    assert memory_cmd.parse_scope("member:alice") == memory_cmd.ScopeSpec("alice", None, False)
    assert memory_cmd.parse_scope("group:feishu:oc_1") == memory_cmd.ScopeSpec(None, "feishu:oc_1", False)
    assert memory_cmd.parse_scope("member:3@group:telegram:-100") == memory_cmd.ScopeSpec("3", "telegram:-100", False)
    for bad in ("members:alice", "group:telegram", "member:a@team", "", "group:x:1@member:a"):
        with pytest.raises(ScopeError):
            memory_cmd.parse_scope(bad)


def test_ingest_keeps_a_speaker_name_the_text_already_starts_with_once(cli: Any) -> None:
    lines = [{"speaker": "Alice", "text": "Alice: the demo moved to Friday"},
             {"speaker": "Bob", "text": "bob：ok, noted"},
             {"speaker": "Carol", "text": "Carolina says hi"}]
    _run(cli, "ingest", "--scope", "team", "--no-extract", stdin="\n".join(json.dumps(x) for x in lines) + "\n")
    texts = sorted(r["text"] for r in _jsonl(_run(cli, "list", "--scope", "team").stdout))
    assert texts == ["Alice: the demo moved to Friday", "Bob: ok, noted", "Carol: Carolina says hi"]


def test_ingest_in_batches_keeps_every_line_and_each_scope_apart(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_cmd, "INGEST_BATCH", 3)  # ten lines: four transactions
    for chat, city in (("-100a", "Lisbon"), ("-100b", "Kyoto")):
        stdin = "".join(json.dumps({"speaker": "Dana", "text": f"note {i} about the {city} offsite",
                                    "id": f"{chat}:{i}"}) + "\n" for i in range(10))
        summary = _jsonl(_run(cli, "ingest", "--scope", f"group:telegram:{chat}", "--no-extract",
                              stdin=stdin).stdout)[-1]
        assert summary["ingested"] == 10 and summary["lines_per_s"] > 0
    for chat, city, other in (("-100a", "Lisbon", "Kyoto"), ("-100b", "Kyoto", "Lisbon")):
        listed = _jsonl(_run(cli, "list", "--scope", f"group:telegram:{chat}", "--limit", "100").stdout)
        assert sorted(int(r["text"].split()[2]) for r in listed) == list(range(10))
        assert all(city in r["text"] for r in listed)
        found = _jsonl(_run(cli, "search", "--scope", f"group:telegram:{chat}", "-k", "10",
                            f"the {other} offsite").stdout)
        assert found and all(city in r["text"] and other not in r["text"] for r in found)
        assert all(r["conversation_id"].startswith(chat) for r in found)
        shown = _jsonl(_run(cli, "show", str(listed[0]["id"]), "--scope", f"group:telegram:{chat}").stdout)[0]
        assert shown["vector_state"] == "synced"


def test_search_in_a_scope_that_holds_nothing_is_an_error(cli: Any) -> None:
    _run(cli, "ingest", "--scope", "group:telegram:-100real", "--no-extract",
         stdin=json.dumps({"speaker": "Eve", "text": "the standup is at nine"}) + "\n")
    with pytest.raises(ScopeError, match=r"group:telegram:-100typo.*group:<channel>:<chat_id>.*"
                                         r"group:telegram:-100real"):
        _run(cli, "search", "--scope", "group:telegram:-100typo", "standup")


class _Lines:
    """Lines of a child's stdout, read by a thread so the test can wait for one with a time limit."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put("")

    def next(self, timeout: float = 120.0) -> str:
        return self._queue.get(timeout=timeout)


def _teamclaw(cfg: list[str], *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "0"}  # the command must flush by itself
    return subprocess.Popen([sys.executable, "-m", "assistant.cli.main", "memory", *args, *cfg], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_search_answers_each_stdin_line_before_the_next_arrives(cli: Any) -> None:
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in LINES) + "\n"
    _run(cli, "ingest", "--scope", "member:alice", "--no-extract", stdin=stdin)
    child = _teamclaw(cli[2], "search", "--scope", "member:alice", "-k", "1")
    assert child.stdin is not None and child.stdout is not None
    out = _Lines(child.stdout)
    try:
        # The child has seen only this line (stdin stays open): its answer must come without more input.
        child.stdin.write(json.dumps({"query": "where is the planning document?", "id": "a"}) + "\n")
        child.stdin.flush()
        first = json.loads(out.next())
        assert first["query_id"] == "a" and "/plans/q2" in first["text"]
        assert isinstance(first["elapsed_ms"], float) and first["elapsed_ms"] > 0
        child.stdin.write("not json\n" + json.dumps({"query": "what milk does Alice like"}) + "\n")
        child.stdin.flush()
        second = json.loads(out.next())
        assert second["query_id"] == 3 and "oat milk" in second["text"] and second["elapsed_ms"] > 0
        child.stdin.close()
        assert out.next() == "" and child.wait(timeout=60) == 0
        assert child.stderr is not None and "line 2: expected" in child.stderr.read()
    finally:
        child.kill()
        child.wait()


def test_unknown_scope_exits_2_naming_the_scope_forms(cli: Any) -> None:
    _run(cli, "ingest", "--scope", "member:alice", "--no-extract", stdin=json.dumps(LINES[0]) + "\n")
    child = _teamclaw(cli[2], "search", "--scope", "group:telegram:-100nowhere", "milk")
    _, err = child.communicate(timeout=120)
    assert child.returncode == 2
    assert "group:telegram:-100nowhere" in err and "member:<name-or-id>" in err and "member:alice" in err
