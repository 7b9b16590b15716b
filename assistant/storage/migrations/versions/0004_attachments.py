"""The ``attachments`` table: files members sent (pictures, voice notes, documents, videos), one row per member
and content hash, with who may read the file and whether it may leave this machine.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database created by this release's baseline already has the table (the baseline builds the current tables).
    if sa.inspect(op.get_bind()).has_table("attachments"):
        return
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("chat_key", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("mime", sa.String(128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("sensitivity_kinds", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("member_id", "sha256", name="uq_attachments_member_sha256"),
    )
    op.create_index("ix_attachments_member_id", "attachments", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_attachments_member_id", table_name="attachments")
    op.drop_table("attachments")
