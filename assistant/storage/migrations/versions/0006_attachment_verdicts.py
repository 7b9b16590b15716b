"""Attachments keep the text read from them and the verdict's detector version, so their sensitivity is judged
again when the detector or the privacy settings change, as memory records' and transcript entries' are.

Before this, an attachment's ``sensitive`` flag only ever grew and its text was not kept. Rows from then keep their
flag (there is no text to judge again); which of them were sent where everything stays local is read from their
kinds.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_NEW = (
    ("description", sa.Text(), sa.text("''")),
    ("local_only", sa.Boolean(), sa.false()),
    ("detector_version", sa.String(40), sa.text("''")),
)


def upgrade() -> None:
    # A database created by this release's baseline already has the columns (the baseline builds the current tables).
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("attachments")}
    added = False
    for name, kind, default in _NEW:
        if name not in have:
            op.add_column("attachments", sa.Column(name, kind, nullable=False, server_default=default))
            added = True
    if added:
        op.execute("UPDATE attachments SET local_only = (CAST(sensitivity_kinds AS TEXT) LIKE "
                   "'%local-only member or chat%')")


def downgrade() -> None:
    for name, _kind, _default in _NEW:
        op.drop_column("attachments", name)
