"""Start-up on an up-to-date database reads the schema revision without alembic; anything else goes to alembic."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from assistant.storage.db import Database
from assistant.storage.revisions import VERSIONS, head_revisions, is_current

_OPEN_TWICE = """
import asyncio, json, sys
from assistant.storage.db import Database

async def main(url):
    db = Database(url)
    try:
        await db.migrate()
    finally:
        await db.aclose()

asyncio.run(main(sys.argv[1]))
print(json.dumps("alembic" in sys.modules))
"""


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(VERSIONS.parent))
    assert head_revisions() == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_a_merge_point_has_one_head(tmp_path: Path) -> None:
    scripts = {"a.py": 'revision = "a"\ndown_revision = None\n',
               "b.py": 'revision: str = "b"\ndown_revision = "a"\n',
               "c.py": 'revision = "c"\ndown_revision = "a"\n',
               "m.py": 'revision = "m"\ndown_revision = ("b", "c")\n'}
    for name, body in scripts.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    assert head_revisions(tmp_path) == frozenset({"m"})


async def test_only_a_database_behind_the_head_loads_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'teamclaw.db'}"

    def start() -> bool:
        done = subprocess.run([sys.executable, "-c", _OPEN_TWICE, url], capture_output=True, text=True, timeout=120,
                              env=dict(os.environ), check=True)
        return bool(json.loads(done.stdout.strip().splitlines()[-1]))

    assert start() is True  # a new database is created by the migrations
    assert start() is False  # up to date: alembic is not even imported
    db = Database(url)
    try:
        assert await is_current(db.engine)
        with sqlite3.connect(tmp_path / "teamclaw.db") as conn:
            conn.execute("UPDATE alembic_version SET version_num = '0002'")
        conn.close()
        assert not await is_current(db.engine)
    finally:
        await db.aclose()


async def test_a_database_without_a_version_table_is_not_current(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert not await is_current(db.engine)
    finally:
        await db.aclose()
