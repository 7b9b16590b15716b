"""Sensitivity beside visibility: memory records and transcript entries keep the privacy detector's verdict (the
kinds found and the detector's version); ``private`` on a memory record no longer follows its visibility.

0.1.0 set a memory record's ``private`` whenever the record was private-visibility (the member's own), which kept
every turn that recalled a harmless note of the member's ("prefers green tea") off the cloud. After this
migration such records carry an empty ``detector_version`` and are scanned again at the next start
(``memory.sensitivity.rescan``): ``private`` then says only "sensitive, or written where everything stays local".

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NEW = {
    "memory_records": (
        ("local_only", sa.Boolean(), sa.false()),
        ("sensitive_kinds", sa.String(200), sa.text("''")),
        ("detector_version", sa.String(40), sa.text("''")),
    ),
    "transcript": (
        ("sensitive_kinds", sa.String(200), sa.text("''")),
        ("detector_version", sa.String(40), sa.text("''")),
    ),
}


def upgrade() -> None:
    # A database created by this release's baseline already has the columns (the baseline builds the current
    # tables); one created by 0.1.0 gets them here.
    inspector = sa.inspect(op.get_bind())
    added: set[str] = set()
    for table, columns in _NEW.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        for name, kind, default in columns:
            if name not in have:
                op.add_column(table, sa.Column(name, kind, nullable=False, server_default=default))
                added.add(table)
    if "memory_records" in added:
        # Which 0.1.0 records were private by configuration can be told only where visibility was not private.
        op.execute("UPDATE memory_records SET local_only = private WHERE visibility <> 'private'")


def downgrade() -> None:
    for table, columns in _NEW.items():
        for name, _kind, _default in columns:
            op.drop_column(table, name)
