"""Which schema revision the code expects and which one a database holds, read without alembic.

Every start asks "is the database up to date?". Loading alembic to answer costs more than the rest of opening the
database (its DDL package imports the PostgreSQL and MS SQL dialects even for SQLite), so the answer comes from the
migration scripts' ``revision``/``down_revision`` lines and the ``alembic_version`` table; alembic runs only when
they differ.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["VERSIONS", "head_revisions", "is_current"]

VERSIONS = Path(__file__).parent / "migrations" / "versions"
_VERSION_TABLE = "alembic_version"  # alembic's default; migrations/env.py keeps it


def _literal(tree: ast.Module, name: str) -> object:
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id == name and value is not None:
            return ast.literal_eval(value)
    raise ValueError(f"no {name} = ... literal")


@functools.cache
def head_revisions(folder: Path = VERSIONS) -> frozenset[str]:
    """The revisions no other script names as its parent: what ``alembic upgrade head`` ends at."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted(folder.glob("*.py")):
        if script.name == "__init__.py":
            continue
        tree = ast.parse(script.read_text(encoding="utf-8"), str(script))
        revisions.add(str(_literal(tree, "revision")))
        down = _literal(tree, "down_revision")
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):  # a merge point has several parents
            parents.update(str(d) for d in down)
    return frozenset(revisions - parents)


async def is_current(engine: AsyncEngine, folder: Path = VERSIONS) -> bool:
    """True when the database already stands at the scripts' head: nothing to migrate. Any doubt (no version table
    yet, an unreadable one) answers False, and alembic decides."""
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}"))).scalars().all()
    except SQLAlchemyError:
        return False
    return bool(stored) and frozenset(stored) == head_revisions(folder)
