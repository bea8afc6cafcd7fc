"""`monitor digest`: build, render and send the daily digest, once per date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import click

from monitor.cli import AppContext, pass_app
from monitor.digest_job import RunOutcome, run_digest


@click.command("digest")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The digest of this date (YYYY-MM-DD, in MONITOR_DIGEST_TZ) instead of today's.",
)
@click.option("--dry-run", is_flag=True, help="Print the text version; send and record nothing.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the HTML version to this file.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Send even if this date was already sent (or interrupted), or before today's "
    "MONITOR_DIGEST_TIME.",
)
@click.option(
    "--scheduled",
    is_flag=True,
    help="What the daemon runs: as without it, and also wait for a failed attempt's retry "
    "delay (5, 10, 20, 40 min, then hourly).",
)
@pass_app
def digest(
    app: AppContext,
    day: datetime | None,
    dry_run: bool,
    out: Path | None,
    force: bool,
    scheduled: bool,
) -> None:
    """Send the digest due now: today's (the date in MONITOR_DIGEST_TZ), once today's
    MONITOR_DIGEST_TIME has passed and unless it was already sent. It holds the stories
    tagged with MONITOR_DIGEST_TAGS that gained an article since the last digest sent for an
    earlier date (reaching MONITOR_CRAWL_TIMEOUT further back, for items stored late), or in
    the last 24 h when none was, less the stories an earlier digest already mailed: one
    entry per story, grouped by topic.

    Before MONITOR_DIGEST_TIME nothing is due: it says when, and sends nothing. Sending early
    would use up today's date, so the scheduled digest would find it sent and what arrives
    until then would wait a day; --force sends it early all the same, --dry-run shows it.
    --date sends a past date's digest (up to that date's digest time) if it was not sent.

    A date is mailed once: running again does nothing unless --force. An attempt interrupted
    mid-send may have been delivered: it is reported, never resent by itself; check the
    mailbox, then --force if it is missing. Exit status 1 when sending failed or such an
    attempt needs a person (the daemon's scheduled runs too); 0 when sent, already sent,
    not due yet or nothing new.

    \b
    Examples:
      monitor digest                          # send today's digest (if due and not sent)
      monitor digest --dry-run                # print it, send nothing
      monitor digest --dry-run --out d.html   # and write the HTML to look at
      monitor digest --force                  # before the digest time: send today's now
      monitor digest --date 2025-03-14 --force   # send that date's digest again
    """
    if scheduled and (day is not None or force):
        raise click.UsageError("--scheduled decides the date itself; drop --date/--force")
    now = datetime.now(UTC)
    chosen: date | None = day.date() if day is not None else None
    if chosen is not None and chosen > now.astimezone(app.config.digest_tz).date():
        raise click.BadParameter(f"{chosen} is in the future", param_hint="--date")
    result = run_digest(
        app.config,
        now,
        day=chosen,
        scheduled=scheduled,
        force=force,
        dry_run=dry_run,
        out=out,
    )
    if result.outcome is RunOutcome.DRY_RUN and result.rendered is not None:
        click.echo(f"Subject: {result.rendered.subject}\n")
        click.echo(result.rendered.text)
        click.echo(result.message, err=True)
    else:
        click.echo(result.message)
    if out is not None and result.rendered is not None:
        click.echo(f"wrote {out}", err=True)
    if result.failed:
        raise click.exceptions.Exit(1)


commands: list[click.Command] = [digest]
