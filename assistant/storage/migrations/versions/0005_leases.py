"""Leases and workers: several daemon processes on one PostgreSQL hold member lanes and receivers (the Telegram
poller, the Feishu long connection) through rows here, and each process keeps a heartbeat row (``assistant.leases``).

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assistant.storage.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database created by this release's baseline has them already (the baseline builds the current tables).
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "leases" not in existing:
        op.create_table(
            "leases",
            sa.Column("name", sa.String(300), primary_key=True),
            sa.Column("holder", sa.String(128), nullable=False),
            sa.Column("acquired_at", UTCDateTime(), nullable=False),
            sa.Column("expires_at", UTCDateTime(), nullable=False),
        )
        op.create_index("ix_leases_holder", "leases", ["holder"])
    if "workers" not in existing:
        op.create_table(
            "workers",
            sa.Column("id", sa.String(128), primary_key=True),
            sa.Column("host", sa.String(200), nullable=False),
            sa.Column("pid", sa.Integer(), nullable=False),
            sa.Column("started_at", UTCDateTime(), nullable=False),
            sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
            sa.Column("expires_at", UTCDateTime(), nullable=False),
            sa.Column("info", sa.JSON(), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_index("ix_leases_holder", table_name="leases")
    op.drop_table("leases")
