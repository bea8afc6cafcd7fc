"""Registry sync keeps article identity: renames follow the outlet row, moves are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.feeds import SyncError, sync_feeds
from db.models import Feed, Outlet
from monitor.registry import FeedSpec

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def spec(feed_id: str, outlet: str, country: str = "MA") -> FeedSpec:
    return FeedSpec(
        id=feed_id,
        outlet=outlet,
        country=country,
        language="ar",
        url=f"https://{feed_id}.example/feed",
    )


def outlets_of(session: Session) -> dict[str, tuple[int, str]]:
    rows = session.execute(select(Feed.slug, Outlet.id, Outlet.name).join(Outlet))
    return {slug: (outlet_id, name) for slug, outlet_id, name in rows}


def test_renamed_outlet_keeps_its_row(session: Session) -> None:
    sync_feeds(session, [spec("hes-ar", "Hespress"), spec("hes-fr", "Hespress")], NOW)
    session.flush()
    before = outlets_of(session)
    sync_feeds(session, [spec("hes-ar", "Hespress Média"), spec("hes-fr", "Hespress Média")], NOW)
    session.flush()
    after = outlets_of(session)
    assert after["hes-ar"] == (before["hes-ar"][0], "Hespress Média")
    assert after["hes-fr"][0] == before["hes-fr"][0]
    assert session.execute(select(Outlet.slug)).scalars().all() == ["hespress-media"]


@pytest.mark.parametrize(
    "moved",
    [
        [spec("hes-ar", "Hespress"), spec("hes-fr", "Hespress FR")],  # outlet split in two
        [spec("hes-ar", "Le360"), spec("hes-fr", "Le360"), spec("le360", "Le360")],  # merge
    ],
)
def test_moving_feeds_between_outlets_is_refused(session: Session, moved: list[FeedSpec]) -> None:
    sync_feeds(
        session,
        [spec("hes-ar", "Hespress"), spec("hes-fr", "Hespress"), spec("le360", "Le360")],
        NOW,
    )
    session.commit()
    before = outlets_of(session)
    with pytest.raises(SyncError, match="articles are identified per outlet"):
        sync_feeds(session, moved, NOW)
    session.rollback()
    assert outlets_of(session) == before
