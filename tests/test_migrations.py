"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from db.engine import current_revision, get_engine, head_revision
from db.models import Base, is_hand_written


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = get_engine(db_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, kind, reflected, other: (
                    not is_hand_written(name)
                ),
            },
        )
        drift = compare_metadata(context, Base.metadata)
    assert drift == [], f"models and migrations disagree: {drift}"


def test_hand_written_objects_exist(db_url: str) -> None:
    inspector = inspect(get_engine(db_url))
    views = set(inspector.get_view_names())
    assert {"v_articles", "v_stories", "v_article_tags"} <= views
    columns = {c["name"] for c in inspector.get_columns("articles")}
    if get_engine(db_url).dialect.name == "sqlite":
        assert "articles_fts" in inspector.get_table_names()
    else:
        assert "search_vector" in columns


def test_schema_head_constant_names_the_newest_migration() -> None:
    from db.engine import SCHEMA_HEAD

    assert head_revision() == SCHEMA_HEAD, "move db.engine.SCHEMA_HEAD to the new migration"
