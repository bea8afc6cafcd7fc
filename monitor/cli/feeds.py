"""`monitor feeds sync|list`: the registry and the health of every feed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from db.engine import get_engine, session_factory
from db.feeds import sync_feeds
from db.models import Feed, Outlet
from monitor.cli import AppContext, pass_app
from monitor.cli.output import emit, format_options
from monitor.registry import load_registry


@click.group()
def feeds() -> None:
    """The feed registry: load it, and see how every feed is doing."""


def sync_registry(url: str, path: Path) -> Any:
    specs = load_registry(path)
    with session_factory(get_engine(url)).begin() as session:
        return sync_feeds(session, specs, datetime.now(UTC))


@feeds.command("sync")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Registry to load (default: MONITOR_FEEDS_FILE).",
)
@pass_app
def sync(app: AppContext, path: Path | None) -> None:
    """Load the registry into the database: add, update, disable removed feeds.

    Feeds that left the file are disabled, never deleted: their articles stay.

    \b
    Examples:
      monitor feeds sync
      monitor feeds sync --file my-feeds.yaml
    """
    report = sync_registry(app.database(), path or app.config.feeds_file)
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.disabled)} disabled, {len(report.unchanged)} unchanged"
    )
    for label, slugs in (
        ("added", report.added),
        ("updated", report.updated),
        ("disabled", report.disabled),
    ):
        if slugs:
            click.echo(f"  {label}: {', '.join(slugs)}")


def feed_records(url: str, failing_only: bool = False) -> list[dict[str, Any]]:
    with session_factory(get_engine(url))() as session:
        query = select(Feed, Outlet).join(Outlet, Feed.outlet_id == Outlet.id).order_by(Feed.slug)
        if failing_only:
            query = query.where(Feed.enabled.is_(True), Feed.consecutive_errors > 0)
        rows = session.execute(query)
        return [
            {
                "id": feed.slug,
                "outlet": outlet.slug,
                "country": outlet.country,
                "lang": feed.language,
                "url": feed.url,
                "enabled": feed.enabled,
                "fulltext": feed.fulltext,
                "health": _health(feed),
                "last_outcome": feed.last_outcome,
                "last_status": feed.last_status,
                "last_error": feed.last_error,
                "consecutive_errors": feed.consecutive_errors,
                "last_polled_at": feed.last_polled_at,
                "last_success_at": feed.last_success_at,
                "last_new_item_at": feed.last_new_item_at,
                "next_poll_at": feed.next_poll_at,
                "interval_seconds": feed.adapted_interval_seconds or feed.interval_seconds,
                "schedule_reason": feed.schedule_reason,
            }
            for feed, outlet in rows
        ]


def _health(feed: Feed) -> str:
    if not feed.enabled:
        return "disabled"
    if feed.last_polled_at is None:
        return "new"
    return "failing" if feed.consecutive_errors else "ok"


@feeds.command("list")
@click.option("--failing", is_flag=True, help="Only enabled feeds whose last fetch failed.")
@format_options
@pass_app
def list_feeds(app: AppContext, failing: bool, output: str) -> None:
    """Feeds with their health: last success, errors, next poll and why.

    \b
    Examples:
      monitor feeds list
      monitor feeds list --failing
      monitor feeds list --json | jq '.[] | select(.health == "failing") | .id'
    """
    records = feed_records(app.database(), failing)
    emit(
        records,
        output,
        [
            ("id", 22),
            ("health", 8),
            ("last_outcome", 14),
            ("consecutive_errors", 6),
            ("last_success_at", 20),
            ("next_poll_at", 20),
            ("schedule_reason", 0),
        ],
    )


commands = [feeds]
