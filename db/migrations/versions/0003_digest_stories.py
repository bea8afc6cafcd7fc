"""digest_stories: what each digest attempt carried

One row per member article of each story a digest showed, written with the attempt's
`sending` row. Articles carried by a `sent` digest keep their stories out of later digests,
so a story is mailed once even when a late copy arrives or the next window overlaps the
previous one (an item stamped before a window's end but committed after it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_stories",
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_digest_stories_article_id_articles"),
        ),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["digests.id"],
            name=op.f("fk_digest_stories_digest_id_digests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest_id", "article_id", name=op.f("pk_digest_stories")),
    )
    op.create_index(
        op.f("ix_digest_stories_article_id"), "digest_stories", ["article_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_digest_stories_article_id"), table_name="digest_stories")
    op.drop_table("digest_stories")
