"""Scrapy item pipelines: thin adapters from the crawl to the domain modules and `db/`.

Their order in `ITEM_PIPELINES` is the data flow: normalise, identify, cluster, tag, store.
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

from db.engine import get_engine, session_factory


class ItemDropped(DropItem):
    """Base of our typed drops; each is counted under `monitor/dropped/<reason>`."""

    reason = "dropped"


class NoIdentity(ItemDropped):
    """An entry with no link, no guid and no title cannot be told apart from any other."""

    reason = "no_identity"


def sessions_for(crawler: Any) -> Any:
    """The session factory for the crawl's database (one engine per process)."""
    return session_factory(get_engine(crawler.settings.get("MONITOR_DATABASE_URL")))
