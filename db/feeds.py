"""The feed registry table: sync from the registry file, due feeds, fetch records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from db.models import Feed, Fetch, Outlet


class FeedDefinition(Protocol):
    """What the registry says about a feed (monitor.registry.FeedSpec satisfies it)."""

    @property
    def id(self) -> str: ...
    @property
    def outlet(self) -> str: ...
    @property
    def outlet_slug(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def interval_seconds(self) -> int: ...
    @property
    def fulltext(self) -> bool: ...
    @property
    def wire(self) -> bool: ...
    @property
    def enabled(self) -> bool: ...


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _outlet(session: Session, spec: FeedDefinition) -> Outlet:
    outlet = session.execute(
        select(Outlet).where(Outlet.slug == spec.outlet_slug)
    ).scalar_one_or_none()
    if outlet is None:
        outlet = Outlet(slug=spec.outlet_slug, name=spec.outlet, country=spec.country)
        session.add(outlet)
    outlet.name, outlet.country = spec.outlet, spec.country
    outlet.is_wire = outlet.is_wire or spec.wire
    return outlet


class SyncError(ValueError):
    """The registry asks for a change that would break article identity; nothing is changed."""


def _rename_outlets(
    session: Session, specs: Sequence[FeedDefinition], existing: dict[str, Feed]
) -> None:
    """Follow an outlet's new name in the registry by renaming its row, keeping its id.

    Articles are identified per outlet, so moving feeds to a new outlet row would store every
    item again. A rename is safe when all listed feeds of the outlet take the same new name
    and no other outlet has it; anything else is refused, naming the feeds.
    """
    outlets = {outlet.id: outlet for outlet in session.execute(select(Outlet)).scalars()}
    taken = {outlet.slug for outlet in outlets.values()}
    wanted: dict[int, dict[str, list[str]]] = {}
    names: dict[str, str] = {}
    for spec in specs:
        feed = existing.get(spec.id)
        if feed is not None:
            wanted.setdefault(feed.outlet_id, {}).setdefault(spec.outlet_slug, []).append(spec.id)
            names[spec.outlet_slug] = spec.outlet
    for outlet_id, by_slug in wanted.items():
        outlet = outlets[outlet_id]
        if set(by_slug) == {outlet.slug}:
            continue
        new_slug, *others = by_slug
        if others or new_slug in taken:
            moves = "; ".join(
                f"{', '.join(ids)} -> {names[slug]!r}" for slug, ids in by_slug.items()
            )
            raise SyncError(
                f"feeds of outlet {outlet.name!r} would move to other outlets ({moves}); "
                "articles are identified per outlet, so rename all of its feeds' outlet "
                "together to a name no other outlet uses"
            )
        outlet.slug, outlet.name = new_slug, names[new_slug]
        taken.add(new_slug)


def sync_feeds(session: Session, specs: Sequence[FeedDefinition], now: datetime) -> SyncReport:
    """Make the feeds table match the registry: add, update, and disable (never delete)."""
    report = SyncReport()
    existing = {feed.slug: feed for feed in session.execute(select(Feed)).scalars()}
    _rename_outlets(session, specs, existing)
    for spec in specs:
        outlet = _outlet(session, spec)
        session.flush()
        wanted: dict[str, Any] = {
            "outlet_id": outlet.id,
            "url": spec.url,
            "language": spec.language,
            "enabled": spec.enabled,
            "fulltext": spec.fulltext,
            "interval_seconds": spec.interval_seconds,
        }
        feed = existing.get(spec.id)
        if feed is None:
            session.add(
                Feed(slug=spec.id, created_at=now, updated_at=now, next_poll_at=now, **wanted)
            )
            report.added.append(spec.id)
            continue
        changed = {key: value for key, value in wanted.items() if getattr(feed, key) != value}
        if not changed:
            report.unchanged.append(spec.id)
            continue
        if "url" in changed:  # validators of the old URL mean nothing for the new one
            feed.etag = feed.last_modified = feed.body_hash = None
            feed.next_poll_at = now
        if changed.get("enabled"):
            feed.next_poll_at = now
        for key, value in changed.items():
            setattr(feed, key, value)
        feed.updated_at = now
        report.updated.append(spec.id)
    listed = {spec.id for spec in specs}
    for slug, feed in existing.items():
        if slug not in listed and feed.enabled:
            feed.enabled = False
            feed.updated_at = now
            report.disabled.append(slug)
    return report


def due_feeds(
    session: Session, now: datetime, *, slugs: Iterable[str] = (), everything: bool = False
) -> list[tuple[Feed, Outlet]]:
    """Enabled feeds to poll now, most overdue first; named `slugs`, or all with `everything`."""
    query = (
        select(Feed, Outlet)
        .join(Outlet, Feed.outlet_id == Outlet.id)
        .where(Feed.enabled.is_(True))
        .order_by(Feed.next_poll_at.asc().nulls_first(), Feed.id)
    )
    wanted = list(slugs)
    if wanted:
        query = query.where(Feed.slug.in_(wanted))
    elif not everything:
        query = query.where(or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
    return [(feed, outlet) for feed, outlet in session.execute(query)]


def unknown_slugs(session: Session, slugs: Iterable[str]) -> list[str]:
    wanted = set(slugs)
    known = set(session.execute(select(Feed.slug).where(Feed.slug.in_(wanted))).scalars())
    return sorted(wanted - known)


@dataclass(frozen=True)
class FetchRecord:
    """One fetch, as the crawler saw it; `schedule_*` is the poller's decision."""

    feed_id: int
    started_at: datetime
    duration_ms: int
    outcome: str
    success: bool
    conditional: bool
    http_status: int | None
    error: str | None
    bytes: int | None
    bozo: str | None
    items_seen: int
    items_new: int
    items_updated: int
    items_dropped: int
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    feed_ttl_seconds: int | None
    next_poll_at: datetime
    interval_seconds: int
    schedule_reason: str


def record_fetch(session: Session, record: FetchRecord) -> None:
    """Add the fetch row and move the feed's state and schedule forward."""
    session.add(
        Fetch(
            feed_id=record.feed_id,
            started_at=record.started_at,
            duration_ms=record.duration_ms,
            http_status=record.http_status,
            outcome=record.outcome,
            conditional=record.conditional,
            bytes=record.bytes,
            items_seen=record.items_seen,
            items_new=record.items_new,
            items_updated=record.items_updated,
            items_dropped=record.items_dropped,
            bozo=record.bozo,
            error=record.error,
        )
    )
    values: dict[str, Any] = {
        "last_polled_at": record.started_at,
        "last_status": record.http_status,
        "last_outcome": record.outcome,
        "next_poll_at": record.next_poll_at,
        "adapted_interval_seconds": record.interval_seconds,
        "schedule_reason": record.schedule_reason,
    }
    if record.success:
        values.update(consecutive_errors=0, last_error=None, last_success_at=record.started_at)
        if record.outcome in {"ok", "unchanged"}:
            # A 200 answer: its validators replace the old ones (absent ones clear them).
            values.update(etag=record.etag, last_modified=record.last_modified)
            values.update(body_hash=record.body_hash)
            if not record.conditional:
                values["last_unconditional_at"] = record.started_at
        if record.feed_ttl_seconds is not None:
            values["feed_ttl_seconds"] = record.feed_ttl_seconds
        if record.items_new:
            values["last_new_item_at"] = record.started_at
    else:
        values.update(consecutive_errors=Feed.consecutive_errors + 1, last_error=record.error)
        if record.outcome == "store_error":
            # Some items are missing: forget the validators so the next poll refetches all.
            values.update(etag=None, last_modified=None, body_hash=None)
    session.execute(update(Feed).where(Feed.id == record.feed_id).values(**values))
