"""`monitor crawl`: one poll cycle in this process (the daemon runs it as a child process)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click
from sqlalchemy import func, select

from db.engine import get_engine, session_factory
from db.feeds import unknown_slugs
from db.models import Feed
from monitor.cli import AppContext, pass_app
from monitor.cli.feeds import sync_registry


def run_crawl(
    app: AppContext,
    *,
    everything: bool = False,
    slugs: tuple[str, ...] = (),
    log_level: str = "INFO",
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the feeds spider once over due feeds (or all, or `slugs`); return its stats."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    config = app.config
    url = app.database()
    sessions = session_factory(get_engine(url))
    with sessions() as session:
        if not session.execute(select(func.count()).select_from(Feed)).scalar_one():
            report = sync_registry(url, config.feeds_file)
            click.echo(f"loaded {len(report.added)} feeds from {config.feeds_file}", err=True)
        missing = unknown_slugs(session, slugs)
    if missing:
        raise click.BadParameter(
            f"no feed with id {', '.join(missing)} (see `monitor feeds list`)", param_hint="--feed"
        )
    settings = get_project_settings()
    settings.setdict(
        {
            "MONITOR_DATABASE_URL": url,
            "MONITOR_TOPICS_FILE": str(config.topics_file),
            "MONITOR_DEDUPE_WINDOW_DAYS": config.dedupe_window_days,
            "MONITOR_CRAWL_ALL": everything,
            "MONITOR_CRAWL_FEEDS": list(slugs),
            "USER_AGENT": config.user_agent,
            "DOWNLOAD_DELAY": config.download_delay,
            "DOWNLOAD_TIMEOUT": config.download_timeout,
            "MONITOR_MIN_INTERVAL": config.min_interval,
            "MONITOR_MAX_INTERVAL": config.max_interval,
            "LOG_LEVEL": log_level,
            **(overrides or {}),
        },
        priority="cmdline",
    )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler("feeds")
    process.crawl(crawler)
    process.start()
    return dict(crawler.stats.get_stats()) if crawler.stats else {}


def summarise(stats: dict[str, Any]) -> str:
    outcomes = Counter(
        {
            key.removeprefix("monitor/fetch/"): value
            for key, value in stats.items()
            if key.startswith("monitor/fetch/")
        }
    )
    stored = {
        key.removeprefix("monitor/stored/"): value
        for key, value in stats.items()
        if key.startswith("monitor/stored/")
    }
    dropped = sum(value for key, value in stats.items() if key.startswith("monitor/dropped/"))
    fetched = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
    return (
        f"{sum(outcomes.values())} feeds fetched ({fetched or 'none due'}); "
        f"articles: {stored.get('new', 0)} new, {stored.get('update', 0)} updated, "
        f"{stored.get('unchanged', 0)} unchanged, {dropped} dropped"
        + (f"; {stored['enriched']} enriched from article pages" if stored.get("enriched") else "")
    )


@click.command()
@click.option("--all", "everything", is_flag=True, help="Poll every enabled feed, due or not.")
@click.option("--feed", "slugs", multiple=True, metavar="ID", help="Poll this feed (repeatable).")
@click.option(
    "--log-level",
    default="WARNING",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    help="Crawler log level.",
)
@pass_app
def crawl(app: AppContext, everything: bool, slugs: tuple[str, ...], log_level: str) -> None:
    """Poll the feeds that are due, once. Failures are recorded, not fatal.

    A feed that fails (HTTP error, timeout, broken XML, ...) is recorded with a named outcome
    in `monitor feeds list` and retried later; the other feeds carry on. The exit status is 1
    only when fetches could not be recorded (the database was lost mid-crawl).

    \b
    Examples:
      monitor crawl
      monitor crawl --all
      monitor crawl --feed hespress-ar --feed ynet-he
    """
    stats = run_crawl(app, everything=everything, slugs=slugs, log_level=log_level)
    click.echo(summarise(stats))
    unrecorded = stats.get("monitor/fetch/unrecorded", 0)
    if unrecorded:  # the database was lost: the feeds' own failures are not this command's
        raise click.ClickException(
            f"{unrecorded} fetches could not be recorded: is the database reachable?"
        )


commands = [crawl]
