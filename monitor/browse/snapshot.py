"""A read-only SQLite copy of a PostgreSQL database, for the web view.

Datasette reads SQLite only. Rather than a second UI for PostgreSQL, `monitor browse`
copies the tables analysts look at into a fresh SQLite file migrated by the same Alembic
chain (so it has the same views and FTS5 index), then serves that file immutable. The
copy is as of the moment it was taken; restart `monitor browse` to refresh it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from db.engine import get_engine, upgrade
from db.models import Base

# Parents before children (foreign keys are enforced on SQLite).
TABLES = (
    "outlets",
    "feeds",
    "fetches",
    "stories",
    "articles",
    "article_feeds",
    "tags",
    "article_tags",
)
BATCH = 2000


def snapshot(
    source_url: str, target: Path, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy ``TABLES`` from ``source_url`` into a new SQLite file; return rows per table."""
    if target.exists():
        target.unlink()
    target_url = f"sqlite:///{target}"
    upgrade(target_url)
    counts: dict[str, int] = {}
    source = get_engine(source_url)
    with source.connect() as reader, get_engine(target_url).begin() as writer:
        for name in TABLES:
            table = Base.metadata.tables[name]
            rows = reader.execution_options(yield_per=BATCH).execute(select(table))
            copied = 0
            for part in rows.partitions(BATCH):
                writer.execute(table.insert(), [dict(row._mapping) for row in part])
                copied += len(part)
            counts[name] = copied
            if progress is not None:
                progress(name, copied)
    get_engine(target_url).dispose()
    return counts
