"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('daemon_state',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('started_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_tick_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_tick_status', sa.Text(), nullable=True),
    sa.Column('info', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_daemon_state'))
    )
    op.create_table('digests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest_date', sa.Date(), nullable=False),
    sa.Column('window_start', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.Text(), nullable=True),
    sa.Column('story_count', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digests'))
    )
    with op.batch_alter_table('digests', schema=None) as batch_op:
        batch_op.create_index('ix_digests_date', ['digest_date'], unique=False)

    op.create_table('outlets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('is_wire', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outlets')),
    sa.UniqueConstraint('slug', name=op.f('uq_outlets_slug'))
    )
    op.create_table('stories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_article_id', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('member_count', sa.Integer(), nullable=False),
    sa.Column('outlet_count', sa.Integer(), nullable=False),
    sa.Column('country_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stories'))
    )
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stories_first_article_id'), ['first_article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stories_first_seen_at'), ['first_seen_at'], unique=False)

    op.create_table('tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=60), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
    sa.UniqueConstraint('slug', name=op.f('uq_tags_slug'))
    )
    op.create_table('feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('fulltext', sa.Boolean(), nullable=False),
    sa.Column('interval_seconds', sa.Integer(), nullable=False),
    sa.Column('adapted_interval_seconds', sa.Integer(), nullable=True),
    sa.Column('etag', sa.Text(), nullable=True),
    sa.Column('last_modified', sa.Text(), nullable=True),
    sa.Column('body_hash', sa.String(length=64), nullable=True),
    sa.Column('feed_ttl_seconds', sa.Integer(), nullable=True),
    sa.Column('next_poll_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('schedule_reason', sa.Text(), nullable=True),
    sa.Column('last_polled_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_unconditional_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('consecutive_errors', sa.Integer(), nullable=False),
    sa.Column('last_status', sa.SmallInteger(), nullable=True),
    sa.Column('last_outcome', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_success_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_new_item_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], name=op.f('fk_feeds_outlet_id_outlets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feeds')),
    sa.UniqueConstraint('slug', name=op.f('uq_feeds_slug'))
    )
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feeds_next_poll_at'), ['next_poll_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_feeds_outlet_id'), ['outlet_id'], unique=False)

    op.create_table('articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('guid', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('canonical_url', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('title_key', sa.String(length=200), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('match_text', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('author', sa.Text(), nullable=True),
    sa.Column('published_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_seen_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('credit', sa.Text(), nullable=True),
    sa.Column('origin', sa.String(length=40), nullable=True),
    sa.Column('story_id', sa.Integer(), nullable=True),
    sa.Column('story_role', sa.String(length=16), nullable=True),
    sa.Column('fulltext_status', sa.String(length=32), nullable=True),
    sa.Column('fulltext_attempts', sa.Integer(), nullable=False),
    sa.Column('fulltext_revision', sa.Integer(), nullable=True),
    sa.Column('fulltext_error', sa.Text(), nullable=True),
    sa.Column('page_canonical_url', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['feed_id'], ['feeds.id'], name=op.f('fk_articles_feed_id_feeds')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], name=op.f('fk_articles_outlet_id_outlets')),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_articles_story_id_stories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_articles')),
    sa.UniqueConstraint('outlet_id', 'canonical_url', name=op.f('uq_articles_outlet_id_canonical_url')),
    sa.UniqueConstraint('outlet_id', 'guid', name=op.f('uq_articles_outlet_id_guid'))
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_articles_feed_id'), ['feed_id'], unique=False)
        batch_op.create_index('ix_articles_first_seen_at', ['first_seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_articles_language'), ['language'], unique=False)
        batch_op.create_index(batch_op.f('ix_articles_origin'), ['origin'], unique=False)
        batch_op.create_index('ix_articles_outlet_title_key', ['outlet_id', 'title_key'], unique=False)
        batch_op.create_index('ix_articles_published_at', ['published_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_articles_story_id'), ['story_id'], unique=False)

    op.create_table('fetches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('started_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('http_status', sa.SmallInteger(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('conditional', sa.Boolean(), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=True),
    sa.Column('items_seen', sa.Integer(), nullable=False),
    sa.Column('items_new', sa.Integer(), nullable=False),
    sa.Column('items_updated', sa.Integer(), nullable=False),
    sa.Column('items_dropped', sa.Integer(), nullable=False),
    sa.Column('bozo', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['feed_id'], ['feeds.id'], name=op.f('fk_fetches_feed_id_feeds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fetches'))
    )
    with op.batch_alter_table('fetches', schema=None) as batch_op:
        batch_op.create_index('ix_fetches_feed_started', ['feed_id', 'started_at'], unique=False)

    op.create_table('article_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_aliases_article_id_articles')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], name=op.f('fk_article_aliases_outlet_id_outlets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_aliases')),
    sa.UniqueConstraint('outlet_id', 'url', name=op.f('uq_article_aliases_outlet_id_url'))
    )
    with op.batch_alter_table('article_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_aliases_article_id'), ['article_id'], unique=False)

    op.create_table('article_feeds',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_feeds_article_id_articles')),
    sa.ForeignKeyConstraint(['feed_id'], ['feeds.id'], name=op.f('fk_article_feeds_feed_id_feeds')),
    sa.PrimaryKeyConstraint('article_id', 'feed_id', name=op.f('pk_article_feeds'))
    )
    with op.batch_alter_table('article_feeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_feeds_feed_id'), ['feed_id'], unique=False)

    op.create_table('article_tags',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('taxonomy_version', sa.String(length=40), nullable=False),
    sa.Column('tagged_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_tags_article_id_articles')),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_article_tags_tag_id_tags')),
    sa.PrimaryKeyConstraint('article_id', 'tag_id', name=op.f('pk_article_tags'))
    )
    with op.batch_alter_table('article_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_tags_tag_id'), ['tag_id'], unique=False)

    op.create_table('dedupe_buckets',
    sa.Column('band', sa.SmallInteger(), nullable=False),
    sa.Column('bucket', sa.BigInteger(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('seen_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_dedupe_buckets_article_id_articles')),
    sa.PrimaryKeyConstraint('band', 'bucket', 'article_id', name=op.f('pk_dedupe_buckets'))
    )
    with op.batch_alter_table('dedupe_buckets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dedupe_buckets_article_id'), ['article_id'], unique=False)
        batch_op.create_index('ix_dedupe_buckets_band_bucket', ['band', 'bucket'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('dedupe_buckets', schema=None) as batch_op:
        batch_op.drop_index('ix_dedupe_buckets_band_bucket')
        batch_op.drop_index(batch_op.f('ix_dedupe_buckets_article_id'))

    op.drop_table('dedupe_buckets')
    with op.batch_alter_table('article_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_tags_tag_id'))

    op.drop_table('article_tags')
    with op.batch_alter_table('article_feeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_feeds_feed_id'))

    op.drop_table('article_feeds')
    with op.batch_alter_table('article_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_aliases_article_id'))

    op.drop_table('article_aliases')
    with op.batch_alter_table('fetches', schema=None) as batch_op:
        batch_op.drop_index('ix_fetches_feed_started')

    op.drop_table('fetches')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_articles_story_id'))
        batch_op.drop_index('ix_articles_published_at')
        batch_op.drop_index('ix_articles_outlet_title_key')
        batch_op.drop_index(batch_op.f('ix_articles_origin'))
        batch_op.drop_index(batch_op.f('ix_articles_language'))
        batch_op.drop_index('ix_articles_first_seen_at')
        batch_op.drop_index(batch_op.f('ix_articles_feed_id'))

    op.drop_table('articles')
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feeds_outlet_id'))
        batch_op.drop_index(batch_op.f('ix_feeds_next_poll_at'))

    op.drop_table('feeds')
    op.drop_table('tags')
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stories_first_seen_at'))
        batch_op.drop_index(batch_op.f('ix_stories_first_article_id'))

    op.drop_table('stories')
    op.drop_table('outlets')
    with op.batch_alter_table('digests', schema=None) as batch_op:
        batch_op.drop_index('ix_digests_date')

    op.drop_table('digests')
    op.drop_table('daemon_state')
