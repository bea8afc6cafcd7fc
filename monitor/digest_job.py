"""The digest run: pick the window, query, build, render, claim the date, send, record.

`run_digest(config, now, ...)` is what `monitor digest` does; `run_due(config, now)` is the
daemon's entry point (the same with `scheduled=True`): it returns one summary line and is
cheap to call often, since it sends only when

* today's MONITOR_DIGEST_TIME (in MONITOR_DIGEST_TZ) has passed (a manual run before then
  needs `force`: otherwise it would take the scheduled digest's place),
* today's digest is not sent, skipped, in flight or interrupted, and
* after a failed attempt, the retry delay has passed (5, 10, 20, 40 min, then hourly;
  hourly at once after a permanent error, in case someone fixes the configuration).

An interrupted attempt (the sender died mid-send, or the connection broke after the message
data began) may have been delivered: every run for that date reports it as a failure, the
scheduled one included, until a person resends it with `force`.

The window runs from the end of the last digest sent for an earlier date (a missed day is
folded into the next digest) to now, or covers the last 24 h when none was ever sent. It
starts MONITOR_CRAWL_TIMEOUT earlier than that end: an item's first-seen time is stamped
when its feed is parsed but committed up to a crawl's length later, so an item seen just
before the last window closed may have been stored only after it was queried. Stories a
sent digest already carried are left out (db.digests), so the overlap repeats nothing.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy.orm import Session

from db import digests as ledger
from db.digests import DigestStatus, MemberRow, StoryRow
from db.engine import open_database, session_factory
from db.models import Digest as DigestRow
from monitor.digest import (
    Digest,
    DigestSettings,
    Member,
    RenderedDigest,
    Story,
    TagHit,
    Window,
    build_digest,
    render_digest,
)
from monitor.mail import (
    DeliveryUnknown,
    MailError,
    Security,
    SmtpSettings,
    build_message,
    send_message,
)
from monitor.outcomes import StoryRole
from settings.config import Config

STALE_AFTER = timedelta(minutes=15)  # a `sending` row older than this was interrupted
FIRST_RETRY = timedelta(minutes=5)
MAX_RETRY = timedelta(hours=1)


class RunOutcome(StrEnum):
    SENT = "sent"
    DRY_RUN = "dry_run"
    SKIPPED_EMPTY = "skipped_empty"  # nothing new, and empty digests are not mailed
    ALREADY_DONE = "already_done"
    NOT_DUE = "not_due"  # before today's digest time (without force)
    RETRY_LATER = "retry_later"  # a failed attempt's retry delay has not passed
    IN_PROGRESS = "in_progress"  # another process is sending this date now
    INTERRUPTED = "interrupted"  # an attempt may have been delivered: a person decides
    NOT_CONFIGURED = "not_configured"  # no SMTP host, sender or recipients
    FAILED = "failed"  # this attempt failed; a later run retries


FAILURES = frozenset({RunOutcome.FAILED, RunOutcome.INTERRUPTED, RunOutcome.NOT_CONFIGURED})


@dataclass(frozen=True)
class DigestRun:
    outcome: RunOutcome
    message: str
    day: date
    rendered: RenderedDigest | None = None
    digest: Digest | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in FAILURES


def run_due(config: Config, now: datetime) -> str:
    """The daemon's digest job: send today's digest if it is due; return a summary line."""
    return run_digest(config, now, scheduled=True).message


def run_digest(
    config: Config,
    now: datetime,
    *,
    day: date | None = None,
    scheduled: bool = False,
    force: bool = False,
    dry_run: bool = False,
    out: Path | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> DigestRun:
    """Build and (unless `dry_run`) send the digest for `day` (default: today, local).

    Today's digest is due once today's MONITOR_DIGEST_TIME has passed; before then only
    `force` (or `dry_run`) builds it. A past date is always due.
    """
    zone = config.digest_tz
    today = now.astimezone(zone).date()
    day = day or today
    due_at = datetime.combine(today, config.digest_time, zone)
    if day >= today and now < due_at and not (force or dry_run):
        note = f"digest {day}: due at {due_at:%H:%M %Z}"
        if not scheduled:
            note += (
                "; --force sends it now (the scheduled run will then find it sent), "
                "--dry-run shows it"
            )
        return DigestRun(RunOutcome.NOT_DUE, note, day)
    missing = _missing_mail_settings(config)
    if missing and not dry_run:
        outcome = RunOutcome.NOT_CONFIGURED
        note = f"digest {day}: not sent, set {', '.join(missing)}"
        if scheduled:  # a daemon without mail settings is a valid setup: say so, quietly
            return DigestRun(RunOutcome.NOT_DUE, note, day)
        return DigestRun(outcome, note, day)

    sessions = session_factory(open_database(config.database_url))
    with sessions() as session:
        if not (force or dry_run):
            blocked = _blocked(session, day, now, scheduled=scheduled)
            if blocked is not None:
                return blocked
        window = _window(session, day, today, now, config)
        due = ledger.due_stories(session, *window, config.digest_tags, day=day)
        digest = build_digest(
            [_story(row) for row in due],
            Window(*window),
            config.digest_tags,
            DigestSettings(timezone=zone.key, send_when_empty=config.digest_send_empty),
        )
        rendered = render_digest(digest)
        if out is not None:
            out.write_text(rendered.html, encoding="utf-8")
        if dry_run:
            note = f"digest {day}: dry run, {_counts(digest)}, nothing sent"
            return DigestRun(RunOutcome.DRY_RUN, note, day, rendered, digest)
        carried = _carried(due, digest)
        return _send(session, config, digest, rendered, carried, now, force, ssl_context)


def _missing_mail_settings(config: Config) -> list[str]:
    wanted = {
        "MONITOR_SMTP_HOST": config.smtp_host,
        "MONITOR_DIGEST_FROM": config.digest_from,
        "MONITOR_DIGEST_TO": ",".join(config.digest_to),
    }
    return [name for name, value in wanted.items() if not value.strip()]


def _blocked(session: Session, day: date, now: datetime, *, scheduled: bool) -> DigestRun | None:
    """Why `day` must not be sent now, or None when it may."""
    rows = ledger.attempts_for(session, day)
    for row in reversed(rows):
        status = DigestStatus(row.status)
        if status in ledger.DONE:
            when = f" at {row.sent_at:%Y-%m-%d %H:%M} UTC" if row.sent_at else ""
            ident = f" (Message-ID {row.message_id})" if row.message_id else ""
            note = f"digest {day}: already {status}{when}{ident}; --force sends it again"
            return DigestRun(RunOutcome.ALREADY_DONE, note, day)
        if status is DigestStatus.SENDING:
            if now - row.created_at < STALE_AFTER:
                note = f"digest {day}: attempt {row.id} is sending since {row.created_at:%H:%M} UTC"
                return DigestRun(RunOutcome.IN_PROGRESS, note, day)
            ledger.mark_interrupted(session, row, "no outcome recorded: the sender stopped")
            return DigestRun(RunOutcome.INTERRUPTED, _interrupted(day, row), day)
        if status is DigestStatus.INTERRUPTED:
            # A failure for the daemon too: its log says so at every recheck until a
            # person has looked, instead of "ok" while nobody knows.
            return DigestRun(RunOutcome.INTERRUPTED, _interrupted(day, row), day)
    failures = [row for row in rows if row.status == DigestStatus.FAILED]
    if scheduled and failures:
        retry_at = failures[-1].created_at + _retry_delay(failures)
        if now < retry_at:
            note = f"digest {day}: retry at {retry_at:%H:%M} UTC after: {failures[-1].error}"
            return DigestRun(RunOutcome.RETRY_LATER, note, day)
    return None


def _interrupted(day: date, row: DigestRow) -> str:
    ident = f", Message-ID {row.message_id}" if row.message_id else ""
    cause = f" ({row.error})" if row.error else ""
    return (
        f"digest {day}: warning: attempt {row.id} (started {row.created_at:%Y-%m-%d %H:%M} "
        f"UTC{ident}) was interrupted{cause} and may have been delivered; check the "
        f"mailbox, then run `monitor digest --date {day} --force` to send it again"
    )


def _retry_delay(failures: list[DigestRow]) -> timedelta:
    if (failures[-1].error or "").startswith("permanent"):
        return MAX_RETRY
    doubled: timedelta = FIRST_RETRY * 2 ** min(len(failures) - 1, 10)
    return min(doubled, MAX_RETRY)


def _window(
    session: Session, day: date, today: date, now: datetime, config: Config
) -> tuple[datetime, datetime]:
    """Today: [end of the last digest sent for an earlier date - the crawl timeout, now), or
    the last 24 h when there is none. A date already sent keeps its start (a past one its
    whole window); a past date never sent ends at its digest time."""
    sent = [r for r in ledger.attempts_for(session, day) if r.status == DigestStatus.SENT]
    if day >= today:
        end = now
        if sent:
            return sent[-1].window_start, end
    else:
        if sent:
            return sent[-1].window_start, sent[-1].window_end
        end = min(datetime.combine(day, config.digest_time, config.digest_tz), now)
    previous = ledger.last_sent(session, before_day=day, ending_by=end)
    if previous is None:
        return end - timedelta(hours=24), end
    # Items stamped before `previous` closed but committed after its query: a crawl commits
    # within MONITOR_CRAWL_TIMEOUT of parsing (the daemon stops it then).
    return previous.window_end - timedelta(seconds=config.crawl_timeout), end


def _carried(due: list[StoryRow], digest: Digest) -> list[tuple[int, int | None]]:
    """(article id, story id) of every member of the stories the digest shows, recorded with
    the claim. Stories only counted (beyond `max_stories`) are not mailed, so not recorded."""
    shown = digest.shown_story_ids
    return [(m.article_id, m.story_id) for row in due if row.key in shown for m in row.members]


def _send(
    session: Session,
    config: Config,
    digest: Digest,
    rendered: RenderedDigest,
    carried: list[tuple[int, int | None]],
    now: datetime,
    force: bool,
    ssl_context: ssl.SSLContext | None,
) -> DigestRun:
    day, window = digest.date, (digest.window.start, digest.window.end)
    recipients = config.digest_to
    if not digest.should_send:
        claim = ledger.claim(
            session,
            day=day,
            window=window,
            recipients=recipients,
            story_count=0,
            now=now,
            force=force,
            status=DigestStatus.SKIPPED,
        )
        note = "nothing new, not mailed (MONITOR_DIGEST_SEND_EMPTY=false)"
        return DigestRun(RunOutcome.SKIPPED_EMPTY, f"digest {day}: {note}", day, rendered, digest)
    claim = ledger.claim(
        session,
        day=day,
        window=window,
        recipients=recipients,
        story_count=digest.story_count,
        now=now,
        force=force,
        carried=carried,
    )
    if claim.row is None:
        blocker = claim.blocker
        note = f"digest {day}: attempt {blocker.id if blocker else '?'} claimed it first"
        return DigestRun(RunOutcome.IN_PROGRESS, note, day, rendered, digest)
    row = claim.row
    message = build_message(
        subject=rendered.subject,
        sender=config.digest_from,
        recipients=recipients,
        text=rendered.text,
        html=rendered.html,
        now=now,
    )
    ledger.set_message_id(session, row, str(message["Message-ID"]))
    smtp = SmtpSettings(
        host=config.smtp_host,
        port=config.smtp_port,
        security=Security(config.smtp_security),
        user=config.smtp_user or None,
        password=config.smtp_password or None,
    )
    try:
        result = send_message(message, smtp, ssl_context=ssl_context)
    except DeliveryUnknown as exc:
        # The server may hold the message: resending blindly could mail it twice.
        ledger.finish(session, row, DigestStatus.INTERRUPTED, error=str(exc))
        return DigestRun(RunOutcome.INTERRUPTED, _interrupted(day, row), day, rendered, digest)
    except MailError as exc:
        kind = "temporary" if exc.temporary else "permanent"
        ledger.finish(session, row, DigestStatus.FAILED, error=f"{kind}: {exc}")
        later = "a later run retries" if exc.temporary else "fix the settings; retried hourly"
        note = f"digest {day}: not sent ({kind}: {exc}); {later}"
        return DigestRun(RunOutcome.FAILED, note, day, rendered, digest)
    refused = ", ".join(f"{a} ({code} {text})" for a, (code, text) in result.refused.items())
    ledger.finish(
        session,
        row,
        DigestStatus.SENT,
        sent_at=now,
        error=f"refused: {refused}" if refused else None,
    )
    accepted = len(recipients) - len(result.refused)
    note = f"digest {day}: sent, {_counts(digest)}, to {accepted} recipient(s)"
    if refused:
        note += f"; refused: {refused}"
    return DigestRun(RunOutcome.SENT, note, day, rendered, digest)


def _counts(digest: Digest) -> str:
    return f"{digest.story_count} stories, {digest.article_count} articles"


# --- rows to domain values ---------------------------------------------------------------


def _story(row: StoryRow) -> Story:
    return Story(row.key, tuple(_member(m) for m in row.members))


def _member(row: MemberRow) -> Member:
    return Member(
        outlet=row.outlet,
        country=row.country,
        lang=row.language,
        title=row.title,
        url=row.url or row.canonical_url or "",  # as published: the canonical form is a key
        seen_at=row.first_seen_at,
        published_at=row.published_at,
        credit=row.credit,
        origin=row.origin,
        excerpt=row.summary or row.body,
        is_original=row.story_role == StoryRole.ORIGINAL,
        tags=tuple(TagHit(t.slug, t.score, _terms(t.evidence)) for t in row.tags),
    )


def _terms(evidence: dict[str, object]) -> tuple[str, ...]:
    """What counted for the tag (its words, as the tagger saw them), without repeats; the
    rule's own label when a match carries no text. Matches that subtracted points (words of
    civilian domains such as tourism) are not evidence for the tag and are left out."""
    matches = evidence.get("matches")
    terms: dict[str, None] = {}
    if isinstance(matches, list):
        for match in matches:
            points = match.get("points", 1) if isinstance(match, dict) else 0
            if isinstance(match, dict) and isinstance(points, int | float) and points > 0:
                label = match.get("text") or match.get("rule")
                if isinstance(label, str) and label.strip():
                    terms.setdefault(label.strip())
    return tuple(terms)
