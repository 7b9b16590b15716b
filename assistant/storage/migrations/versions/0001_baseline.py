"""Baseline schema of the first release: every table declared in the code at 0.1.0.

Later schema changes are numbered migrations after this one; this baseline never changes once released.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

from assistant.storage.schema import full_metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    full_metadata().create_all(bind=op.get_bind(), checkfirst=True)


def downgrade() -> None:
    full_metadata().drop_all(bind=op.get_bind())
