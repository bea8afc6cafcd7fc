"""`monitor status`: is the monitor healthy? Daemon, feeds, counts, last digest."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import click

from db.engine import display_url, get_engine
from monitor.cli import AppContext, pass_app
from monitor.health import health_report
from monitor.polling import format_duration


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    delta = now - value
    relative = (
        f"{format_duration(delta)} ago"
        if delta.total_seconds() >= 0
        else f"in {format_duration(-delta)}"
    )
    return f"{value:%Y-%m-%d %H:%M:%S} UTC ({relative})"


def status_record(url: str, tz: Any, now: datetime | None = None) -> dict[str, Any]:
    """The status as data (what `--json` prints)."""
    now = now or datetime.now(UTC)
    report = health_report(get_engine(url), now, tz)
    feeds = report.pop("feeds")
    return {
        "database": display_url(url),
        "checked_at": now,
        **report,
        "feeds": feeds["counts"],
        "failing": feeds["failing"],
        "silent": feeds["silent"],
        "never_polled": feeds["never_polled"],
    }


def _daemon_line(daemon: dict[str, Any], now: datetime) -> str:
    state = daemon["state"]
    if state == "never started":
        return "never started (start it with `monitor run`)"
    if state == "running":
        return (
            f"running, pid {daemon['pid']} on {daemon['host']}, heartbeat "
            f"{format_duration(now - daemon['heartbeat_at'])} ago, up since "
            f"{daemon['started_at']:%Y-%m-%d %H:%M} UTC"
        )
    if state == "stale":
        return (
            f"NOT RESPONDING: pid {daemon['pid']} on {daemon['host']}, last heartbeat "
            f"{_when(daemon['heartbeat_at'], now)}; it was killed or hangs"
        )
    return f"stopped {_when(daemon['heartbeat_at'], now)}"


def print_status(record: dict[str, Any], tz_name: str) -> None:
    now: datetime = record["checked_at"]
    daemon, feeds, digest = record["daemon"], record["feeds"], record["last_digest"]
    tick = daemon.get("last_tick_at")
    click.echo(f"database      {record['database']}")
    click.echo(f"daemon        {_daemon_line(daemon, now)}")
    click.echo(
        "last tick     "
        + (f"{_when(tick, now)}: {daemon['last_tick_status']}" if tick else "never")
    )
    click.echo(
        f"feeds         {feeds['enabled']} enabled: {feeds['ok']} ok, {feeds['failing']} "
        f"failing, {feeds['silent']} silent, {feeds['never_polled']} not polled yet"
    )
    click.echo(f"last fetch    {_when(record['last_fetch_at'], now)}")
    click.echo(
        f"items today   {record['items_today']} (since {record['today_since']:%H:%M} {tz_name})"
    )
    click.echo(f"articles      {record['articles']} in {record['stories']} stories")
    if digest:
        click.echo(
            f"last digest   {digest['date']} {digest['status']} ({digest['stories']} stories)"
            + (f", sent {_when(digest['sent_at'], now)}" if digest["sent_at"] else "")
            + (f": {digest['error']}" if digest["error"] else "")
        )
    else:
        click.echo("last digest   none")
    for row in record["failing"]:
        status = f" (HTTP {row['status']})" if row["status"] else ""
        click.echo(
            f"  failing: {row['id']}: {row['outcome']}{status} x{row['errors']}: "
            f"{row['error']}; last success {_when(row['last_success_at'], now)}; "
            f"next try {_when(row['next_poll_at'], now)}"
        )
    for row in record["silent"]:
        click.echo(f"  silent: {row['id']}: {row['why']}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Health at a glance: daemon alive, last tick, feeds ok / failing / silent, items today,
    last digest.

    A feed is failing after an unsuccessful fetch (it is retried with backoff, at least
    daily); silent when it normally publishes but has been quiet far longer than its usual
    longest quiet spell. "Today" is the local day in MONITOR_DIGEST_TZ.

    \b
    Examples:
      monitor status
      monitor status --json | jq .daemon.alive
      monitor status --json | jq '.failing[].id'
    """
    config = app.config
    record = status_record(app.database(), config.digest_tz)
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False, indent=2, default=_plain))
        return
    print_status(record, str(config.digest_tz))


commands = [status]
