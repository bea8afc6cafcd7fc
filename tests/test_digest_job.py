"""The digest run end to end on SQLite and PostgreSQL with a real SMTP server on 127.0.0.1.

Exactly once: a second run sends nothing; SMTP down then up sends one message; a sender killed
mid-send is reported, not resent; two claims racing for a date never both send.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trustme
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from db import digests as ledger
from db.digests import DigestStatus
from db.engine import get_engine, session_factory
from db.models import Article, ArticleTag, Digest, DigestStory, Feed, Outlet, Story, Tag
from monitor.digest_job import RunOutcome, run_digest, run_due
from settings.config import Config, load_config
from tests.helpers import monitor_env, run_monitor
from tests.test_mail import (
    PASSWORD,
    USER,
    DropsBeforeReply,
    QuitRefused,
    Recorder,
    _authenticator,
    free_port,
    smtp_server,
)

# 07:05 in Casablanca (UTC+1 in June): five minutes after the default MONITOR_DIGEST_TIME.
NOW = datetime(2025, 6, 11, 6, 5, tzinfo=UTC)
# A window reaches back the default MONITOR_CRAWL_TIMEOUT before the last one ended.
MARGIN = timedelta(seconds=900)
RECIPIENTS = ("analyst1@example.org", "analyst2@example.org")
AR_TITLE = "وفد عسكري إسرائيلي يزور الرباط"
HE_TITLE = "ישראל ומרוקו חתמו על עסקת רחפנים"
FR_LONE = "Accord de coopération sécuritaire signé à Rabat"


def config_for(db_url: str, tmp_path: Path, port: int, **extra: str) -> Config:
    environ = {
        "MONITOR_DATABASE_URL": db_url,
        "MONITOR_SMTP_HOST": "127.0.0.1",
        "MONITOR_SMTP_PORT": str(port),
        "MONITOR_SMTP_SECURITY": "none",
        "MONITOR_DIGEST_FROM": "Monitor <monitor@example.org>",
        "MONITOR_DIGEST_TO": ",".join(RECIPIENTS),
        **extra,
    }
    return load_config(environ, cwd=tmp_path)


def seed(session: Session, now: datetime) -> None:
    """Outlets, tags, and in the last day: a tagged 3-outlet story, a tagged Hebrew story,
    a tagged lone article, an untagged item; plus a tagged story from three days ago."""
    outlets = {
        name: Outlet(slug=name.lower(), name=name, country=country, is_wire=False)
        for name, country in [("Hespress", "MA"), ("Le360", "MA"), ("Ynet", "IL")]
    }
    session.add_all(outlets.values())
    session.flush()
    feeds = {}
    for name, outlet in outlets.items():
        feeds[name] = Feed(
            slug=f"{name.lower()}-feed",
            outlet_id=outlet.id,
            url=f"http://127.0.0.1:9/{name.lower()}",
            language="ar",
            interval_seconds=900,
            created_at=now - timedelta(days=30),
            updated_at=now - timedelta(days=30),
        )
    session.add_all(feeds.values())
    tags = {
        slug: Tag(slug=slug, label=slug)
        for slug in ("defense-cooperation", "military-visit", "arms-deal", "security-agreement")
    }
    session.add_all(tags.values())
    session.flush()
    serial = iter(range(1, 1000))

    def article(
        outlet: str,
        title: str,
        hours: float,
        story: Story | None,
        role: str | None,
        lang: str,
        *slugs: str,
    ) -> Article:
        seen = now - timedelta(hours=hours)
        row = Article(
            outlet_id=outlets[outlet].id,
            feed_id=feeds[outlet].id,
            guid=f"g{next(serial)}",
            url=f"https://{outlet.lower()}.example/{hours}",
            canonical_url=f"https://{outlet.lower()}.example/{hours}",
            title=title,
            summary=f"{title}.",
            language=lang,
            published_at=seen - timedelta(minutes=5),
            first_seen_at=seen,
            updated_at=seen,
            content_hash=f"{next(serial):064d}",
            story_id=story.id if story else None,
            story_role=role,
            credit="و.م.ع" if lang == "ar" else None,
            origin="map" if lang == "ar" else None,
        )
        session.add(row)
        session.flush()
        for slug in slugs:
            evidence = {"score": 2.0, "matches": [{"rule": f"{slug} term", "text": "x"}]}
            session.add(
                ArticleTag(
                    article_id=row.id,
                    tag_id=tags[slug].id,
                    score=2.0,
                    evidence=evidence,
                    taxonomy_version="t1",
                    tagged_at=seen,
                )
            )
        return row

    def story(hours: float) -> Story:
        seen = now - timedelta(hours=hours)
        row = Story(first_seen_at=seen, last_seen_at=seen)
        session.add(row)
        session.flush()
        return row

    visit = story(20)
    article(
        "Hespress", AR_TITLE, 20, visit, "original", "ar", "defense-cooperation", "military-visit"
    )
    article("Le360", AR_TITLE, 19, visit, "copy", "ar")
    article("Ynet", "IDF delegation in Rabat", 3, visit, "copy", "en")
    deal = story(5)
    article("Ynet", HE_TITLE, 5, deal, "original", "he", "defense-cooperation", "arms-deal")
    article("Le360", FR_LONE, 2, None, None, "fr", "defense-cooperation", "security-agreement")
    weather = story(4)
    article("Hespress", "طقس حار بمراكش", 4, weather, "original", "ar")
    old = story(72)
    article(
        "Ynet", "Old story outside the window", 72, old, "original", "en", "defense-cooperation"
    )
    session.commit()


@pytest.fixture
def seeded(db_url: str) -> str:
    with session_factory(get_engine(db_url))() as session:
        seed(session, NOW)
    return db_url


def rows(db_url: str) -> list[Digest]:
    with session_factory(get_engine(db_url))() as session:
        return list(session.execute(select(Digest).order_by(Digest.id)).scalars())


def text_part(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


# --- sending once ------------------------------------------------------------------------


def test_sends_once_then_nothing(seeded: str, tmp_path: Path) -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        first = run_digest(config, NOW)
        second = run_digest(config, NOW + timedelta(minutes=1))
        due = run_due(config, NOW + timedelta(hours=3))
    assert first.outcome is RunOutcome.SENT, first.message
    assert second.outcome is RunOutcome.ALREADY_DONE
    assert "already sent" in due
    assert len(handler.messages) == 1
    received = handler.messages[0]
    assert received.rcpt_tos == list(RECIPIENTS)
    text = text_part(received.content)
    for title in (AR_TITLE, HE_TITLE, FR_LONE):
        assert text.count(title) == 1, title
    assert "طقس" not in text and "Old story" not in text
    assert "Also carried by:" in text and "Le360" in text
    (row,) = rows(seeded)
    assert row.status == DigestStatus.SENT
    assert row.digest_date == date(2025, 6, 11)
    assert row.story_count == 3
    assert row.recipients == ", ".join(RECIPIENTS)
    assert row.window_end == NOW and row.window_start == NOW - timedelta(hours=24)
    parsed = message_from_bytes(received.content, policy=policy.default)
    assert row.message_id == parsed["Message-ID"]
    assert row.sent_at == NOW


def test_force_sends_the_same_window_again(seeded: str, tmp_path: Path) -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        run_digest(config, NOW)
        again = run_digest(config, NOW + timedelta(hours=1), force=True)
    assert again.outcome is RunOutcome.SENT
    assert len(handler.messages) == 2
    first, second = rows(seeded)
    assert (second.window_start, second.attempts) == (first.window_start, 2)
    assert text_part(handler.messages[1].content).count(AR_TITLE) == 1


def test_next_window_starts_where_the_last_sent_one_ended(seeded: str, tmp_path: Path) -> None:
    handler = Recorder()
    later = NOW + timedelta(days=1)
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        run_digest(config, NOW)
        with session_factory(get_engine(seeded))() as session:
            seed_one_more(session, later - timedelta(hours=1))
        nxt = run_digest(config, later)
    assert nxt.outcome is RunOutcome.SENT
    assert nxt.digest is not None and nxt.digest.window.start == NOW - MARGIN
    text = text_part(handler.messages[1].content)
    assert "Exercice conjoint" in text
    assert AR_TITLE not in text  # it was in yesterday's digest


def seed_one_more(session: Session, seen: datetime) -> None:
    add_article(session, seen, "Exercice conjoint à Agadir", guid="late")


def add_article(
    session: Session,
    seen: datetime,
    title: str,
    *,
    guid: str,
    outlet: str = "le360",
    story_of: str | None = None,
    tagged: bool = True,
) -> int:
    """A French article first seen at `seen`; in the story whose original is titled
    `story_of` (a copy), or alone. Returns its id."""
    found = session.execute(select(Outlet).where(Outlet.slug == outlet)).scalar_one()
    feed = session.execute(select(Feed).where(Feed.outlet_id == found.id)).scalar_one()
    tag = session.execute(select(Tag).where(Tag.slug == "defense-cooperation")).scalar_one()
    story_id = None
    if story_of is not None:
        story_id = session.execute(
            select(Article.story_id).where(Article.title == story_of).limit(1)
        ).scalar_one()
    row = Article(
        outlet_id=found.id,
        feed_id=feed.id,
        guid=guid,
        url=f"https://{outlet}.example/{guid}",
        canonical_url=f"https://{outlet}.example/{guid}",
        title=title,
        language="fr",
        published_at=seen,
        first_seen_at=seen,
        updated_at=seen,
        content_hash=guid.ljust(64, "0"),
        story_id=story_id,
        story_role="copy" if story_id else None,
    )
    session.add(row)
    session.flush()
    if tagged:
        session.add(
            ArticleTag(
                article_id=row.id,
                tag_id=tag.id,
                score=1.0,
                evidence={},
                taxonomy_version="t1",
                tagged_at=seen,
            )
        )
    session.commit()
    return row.id


def carried_by(db_url: str, digest_id: int) -> set[int]:
    with session_factory(get_engine(db_url))() as session:
        return set(
            session.execute(
                select(DigestStory.article_id).where(DigestStory.digest_id == digest_id)
            ).scalars()
        )


def test_a_missed_day_is_folded_into_the_next_digest(seeded: str, tmp_path: Path) -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        run_digest(config, NOW - timedelta(days=3))  # sent three days ago; nothing since
        result = run_digest(config, NOW)
    assert result.digest is not None
    assert result.digest.window.start == NOW - timedelta(days=3) - MARGIN
    assert "Old story outside the window" in text_part(handler.messages[1].content)


@pytest.mark.parametrize("send_empty", ["true", "false"])
def test_nothing_new(db_url: str, tmp_path: Path, send_empty: str) -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        config = config_for(db_url, tmp_path, port, MONITOR_DIGEST_SEND_EMPTY=send_empty)
        result = run_digest(config, NOW)
        again = run_digest(config, NOW + timedelta(hours=1))
    assert again.outcome is RunOutcome.ALREADY_DONE
    (row,) = rows(db_url)
    if send_empty == "true":
        assert result.outcome is RunOutcome.SENT
        assert len(handler.messages) == 1
        assert "Nothing new" in text_part(handler.messages[0].content)
        assert row.status == DigestStatus.SENT
    else:
        assert result.outcome is RunOutcome.SKIPPED_EMPTY
        assert handler.messages == []
        assert row.status == DigestStatus.SKIPPED


# --- failures and retries ----------------------------------------------------------------


def test_smtp_down_then_up_sends_exactly_one(seeded: str, tmp_path: Path) -> None:
    port = free_port()
    config = config_for(seeded, tmp_path, port)
    assert run_due(config, NOW - timedelta(minutes=10)).endswith("due at 07:00 +01")
    down = run_digest(config, NOW, scheduled=True)
    assert down.outcome is RunOutcome.FAILED and "temporary" in down.message
    soon = run_digest(config, NOW + timedelta(minutes=2), scheduled=True)
    assert soon.outcome is RunOutcome.RETRY_LATER
    down_again = run_digest(config, NOW + timedelta(minutes=6), scheduled=True)
    assert down_again.outcome is RunOutcome.FAILED
    # The second failure doubles the delay: 10 minutes.
    wait = run_digest(config, NOW + timedelta(minutes=14), scheduled=True)
    assert wait.outcome is RunOutcome.RETRY_LATER
    handler = Recorder()
    with smtp_server(handler, port=port):
        up = run_digest(config, NOW + timedelta(minutes=17), scheduled=True)
        after = run_digest(config, NOW + timedelta(minutes=40), scheduled=True)
    assert up.outcome is RunOutcome.SENT, up.message
    assert after.outcome is RunOutcome.ALREADY_DONE
    assert len(handler.messages) == 1
    assert [r.status for r in rows(seeded)] == ["failed", "failed", "sent"]
    assert rows(seeded)[0].error.startswith("temporary: 127.0.0.1:")  # type: ignore[union-attr]


def test_permanent_rejection_waits_an_hour(seeded: str, tmp_path: Path) -> None:
    handler = Recorder(reply="554 5.7.1 policy rejection")
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        failed = run_digest(config, NOW, scheduled=True)
        wait = run_digest(config, NOW + timedelta(minutes=30), scheduled=True)
    assert failed.outcome is RunOutcome.FAILED and "permanent" in failed.message
    assert wait.outcome is RunOutcome.RETRY_LATER


def test_a_sender_killed_mid_send_is_reported_not_resent(seeded: str, tmp_path: Path) -> None:
    """The child is killed after the server has the message but before it answers."""
    received = threading.Event()

    class Stalling(Recorder):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await super().handle_DATA(server, session, envelope)
            received.set()
            await asyncio.sleep(30)  # the sender dies waiting for this reply
            return "250 OK"

    handler = Stalling()
    with smtp_server(handler) as port:
        env = monitor_env(
            seeded,
            MONITOR_SMTP_HOST="127.0.0.1",
            MONITOR_SMTP_PORT=str(port),
            MONITOR_SMTP_SECURITY="none",
            MONITOR_DIGEST_FROM="monitor@example.org",
            MONITOR_DIGEST_TO=",".join(RECIPIENTS),
        )
        child = subprocess.Popen(
            [sys.executable, "-m", "monitor", "digest", "--date", "2025-06-11"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert received.wait(60), "the child never sent"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.communicate(timeout=30)
    assert len(handler.messages) == 1  # delivered, as far as the server knows
    (row,) = rows(seeded)
    assert row.status == DigestStatus.SENDING
    assert row.message_id  # recorded before sending: the analyst can look for it

    config = config_for(seeded, tmp_path, free_port())
    soon = row.created_at + timedelta(minutes=1)
    assert run_digest(config, soon, day=date(2025, 6, 11)).outcome is RunOutcome.IN_PROGRESS
    stale = row.created_at + timedelta(minutes=20)
    reported = run_digest(config, stale, day=date(2025, 6, 11))
    assert reported.outcome is RunOutcome.INTERRUPTED
    assert row.message_id in reported.message and "--force" in reported.message
    assert rows(seeded)[0].status == DigestStatus.INTERRUPTED
    later = run_digest(config, stale + timedelta(hours=1), day=date(2025, 6, 11))
    assert later.outcome is RunOutcome.INTERRUPTED  # still refused, still reported
    assert len(rows(seeded)) == 1


def test_a_claim_racing_another_withdraws(seeded: str) -> None:
    """A rival commits its claim between our check and our re-check: we must not send."""
    engine = get_engine(seeded)
    sessions = session_factory(engine)
    window = (NOW - timedelta(days=1), NOW)
    with sessions() as ours:
        fired: list[int] = []

        def rival_claims(session: Session) -> None:
            if fired:
                return
            fired.append(1)
            with sessions() as other:
                other.add(
                    Digest(
                        digest_date=NOW.date(),
                        window_start=window[0],
                        window_end=window[1],
                        recipients="x@example.org",
                        status=DigestStatus.SENDING,
                        attempts=1,
                        created_at=NOW,
                        story_count=1,
                    )
                )
                other.commit()

        event.listen(ours, "after_commit", rival_claims)
        claim = ledger.claim(
            ours, day=NOW.date(), window=window, recipients=RECIPIENTS, story_count=1, now=NOW
        )
    assert not claim.ok and claim.blocker is not None
    statuses = sorted(r.status for r in rows(seeded))
    assert statuses == ["conflict", "sending"]
    with sessions() as session:  # and the date stays taken for anyone else
        late = ledger.claim(
            session, day=NOW.date(), window=window, recipients=RECIPIENTS, story_count=1, now=NOW
        )
    assert not late.ok


# --- each story once: overlapping windows, late copies ---------------------------------------


def test_an_item_stored_after_the_window_closed_goes_in_the_next_digest(
    seeded: str, tmp_path: Path
) -> None:
    """First seen at 07:04:59 while a crawl parsed its feed, committed after the 07:05
    digest had queried: the next window reaches back over it. What the first digest carried
    inside that overlap (a lone article, a copy of a story) is not mailed twice."""
    sessions = session_factory(get_engine(seeded))
    with sessions() as session:
        lone = add_article(session, NOW - timedelta(minutes=5), "Dans la marge", guid="margin")
        copy = add_article(
            session,
            NOW - timedelta(minutes=10),
            "Accord de drones Israël-Maroc",
            guid="copy",
            story_of=HE_TITLE,
        )
    handler = Recorder()
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        first = run_digest(config, NOW)
        with sessions() as session:  # the crawl that parsed it commits now
            add_article(session, NOW - timedelta(seconds=1), "Livré en retard", guid="slow")
        nxt = run_digest(config, NOW + timedelta(days=1))
    assert first.outcome is RunOutcome.SENT and nxt.outcome is RunOutcome.SENT, nxt.message
    assert {lone, copy} <= carried_by(seeded, rows(seeded)[0].id)
    text = text_part(handler.messages[1].content)
    assert "Livré en retard" in text
    for title in ("Dans la marge", "Accord de drones", HE_TITLE, AR_TITLE, FR_LONE):
        assert title not in text, title
    assert nxt.digest is not None and nxt.digest.story_count == 1


def test_a_late_copy_does_not_mail_a_story_again(seeded: str, tmp_path: Path) -> None:
    """Yesterday's story gains a copy today: analysts already have it, so it stays out."""
    later = NOW + timedelta(days=1)
    handler = Recorder()
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        run_digest(config, NOW)
        with session_factory(get_engine(seeded))() as session:
            add_article(
                session,
                later - timedelta(hours=2),
                "Une délégation militaire israélienne à Rabat",
                guid="late-copy",
                story_of=AR_TITLE,
            )
        nxt = run_digest(config, later)
    assert nxt.digest is not None and nxt.digest.story_count == 0, nxt.message
    text = text_part(handler.messages[1].content)
    assert "Nothing new" in text
    assert AR_TITLE not in text and "délégation" not in text


def test_a_forced_resend_of_a_past_date_shows_its_own_stories(seeded: str, tmp_path: Path) -> None:
    """Resending a date ignores what that date's own digest carried (not other dates')."""
    handler = Recorder()
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        run_digest(config, NOW)
        run_digest(config, NOW + timedelta(days=1))
        again = run_digest(config, NOW + timedelta(days=1, hours=1), day=NOW.date(), force=True)
    assert again.outcome is RunOutcome.SENT
    text = text_part(handler.messages[2].content)
    for title in (AR_TITLE, HE_TITLE, FR_LONE):
        assert text.count(title) == 1, title


# --- after the data: accepted is sent, lost before the verdict is interrupted ---------------


def test_a_refused_quit_after_the_data_was_accepted_is_sent_once(
    seeded: str, tmp_path: Path
) -> None:
    handler = QuitRefused()  # 250 to the data, 421 to QUIT
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        first = run_digest(config, NOW, scheduled=True)
        later = run_digest(config, NOW + timedelta(minutes=10), scheduled=True)
    assert first.outcome is RunOutcome.SENT, first.message
    assert later.outcome is RunOutcome.ALREADY_DONE
    assert len(handler.messages) == 1
    assert [r.status for r in rows(seeded)] == ["sent"]


def test_a_connection_lost_before_the_reply_to_the_data_is_reported_not_resent(
    seeded: str, tmp_path: Path
) -> None:
    with smtp_server(Recorder()) as port:  # yesterday's went out: today's window follows it
        yesterday = run_digest(config_for(seeded, tmp_path, port), NOW - timedelta(days=1))
    assert yesterday.outcome is RunOutcome.SENT
    handler = DropsBeforeReply()  # has the whole message, then drops the connection
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        first = run_digest(config, NOW, scheduled=True)
        later = run_digest(config, NOW + timedelta(minutes=30), scheduled=True)
    assert first.outcome is RunOutcome.INTERRUPTED and first.failed, first.message
    assert "may have been delivered" in first.message and "--force" in first.message
    assert later.outcome is RunOutcome.INTERRUPTED and later.failed
    assert len(handler.messages) == 1
    row = rows(seeded)[-1]
    assert len(rows(seeded)) == 2
    assert row.status == DigestStatus.INTERRUPTED and row.message_id
    assert "connection lost after the message data began" in (row.error or "")
    assert len(carried_by(seeded, row.id)) == 5  # recorded with the claim, before sending
    # Only a sent digest keeps its stories out: tomorrow's still carries them.
    mailbox = Recorder()
    with smtp_server(mailbox) as port:
        config = config_for(seeded, tmp_path, port)
        tomorrow = run_digest(config, NOW + timedelta(days=1), scheduled=True)
    assert tomorrow.outcome is RunOutcome.SENT
    assert AR_TITLE in text_part(mailbox.messages[0].content)


def test_scheduled_runs_report_an_interrupted_attempt_as_a_failure(
    seeded: str, tmp_path: Path
) -> None:
    """The daemon's recheck must not log "ok" while a person is needed."""
    with session_factory(get_engine(seeded))() as session:
        session.add(
            Digest(
                digest_date=NOW.date(),
                window_start=NOW - timedelta(days=1),
                window_end=NOW,
                recipients=", ".join(RECIPIENTS),
                status=DigestStatus.INTERRUPTED,
                attempts=1,
                created_at=NOW,
                story_count=3,
                message_id="<abc@example.org>",
                error="no outcome recorded: the sender stopped",
            )
        )
        session.commit()
    config = config_for(seeded, tmp_path, free_port())
    result = run_digest(config, NOW + timedelta(hours=1), scheduled=True)
    assert result.outcome is RunOutcome.INTERRUPTED and result.failed
    assert "warning" in result.message and "<abc@example.org>" in result.message
    line = run_due(config, NOW + timedelta(hours=2))
    assert "interrupted" in line and "--force" in line


# --- due now -------------------------------------------------------------------------------


def test_a_manual_run_before_the_digest_time_sends_only_with_force(
    seeded: str, tmp_path: Path
) -> None:
    early = NOW - timedelta(minutes=10)  # 06:55 in Casablanca, the digest time is 07:00
    handler = Recorder()
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        refused = run_digest(config, early)
        assert rows(seeded) == [] and handler.messages == []
        dry = run_digest(config, early, dry_run=True)
        past = run_digest(config, early, day=NOW.date() - timedelta(days=1))
        forced = run_digest(config, early, force=True)
        scheduled = run_digest(config, NOW, scheduled=True)
    assert refused.outcome is RunOutcome.NOT_DUE and not refused.failed
    assert "due at 07:00" in refused.message and "--force" in refused.message
    assert dry.outcome is RunOutcome.DRY_RUN
    assert past.outcome is RunOutcome.SENT  # a past date is always due
    assert forced.outcome is RunOutcome.SENT
    assert scheduled.outcome is RunOutcome.ALREADY_DONE
    assert len(handler.messages) == 2


def test_ledger_last_sent_is_where_the_next_window_starts(db_url: str) -> None:
    def sent(day: date, end: datetime) -> Digest:
        return Digest(
            digest_date=day,
            window_start=end - timedelta(days=1),
            window_end=end,
            recipients="a@example.org",
            status=DigestStatus.SENT,
            attempts=1,
            created_at=end,
            story_count=0,
        )

    with session_factory(get_engine(db_url))() as session:
        session.add_all(
            [
                sent(date(2025, 6, 9), NOW - timedelta(days=2)),
                sent(date(2025, 6, 10), NOW - timedelta(days=1)),
                sent(date(2025, 6, 11), NOW),  # today's own: never where today's starts
            ]
        )
        session.commit()
        found = ledger.last_sent(session, before_day=date(2025, 6, 11), ending_by=NOW)
        assert found is not None and found.digest_date == date(2025, 6, 10)
        early = ledger.last_sent(
            session, before_day=date(2025, 6, 11), ending_by=NOW - timedelta(days=1, minutes=1)
        )
        assert early is not None and early.digest_date == date(2025, 6, 9)
        assert ledger.last_sent(session, before_day=date(2025, 6, 9), ending_by=NOW) is None


# --- the command -------------------------------------------------------------------------


@pytest.fixture
def live_seeded(db_url: str) -> Iterator[str]:
    """Seeded relative to the real clock, for `monitor digest` child processes."""
    with session_factory(get_engine(db_url))() as session:
        seed(session, datetime.now(UTC))
    yield db_url


def test_command_dry_run_out_send_and_rerun(live_seeded: str, tmp_path: Path) -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        env = monitor_env(
            live_seeded,
            MONITOR_SMTP_HOST="127.0.0.1",
            MONITOR_SMTP_PORT=str(port),
            MONITOR_SMTP_SECURITY="none",
            MONITOR_DIGEST_FROM="monitor@example.org",
            MONITOR_DIGEST_TO=",".join(RECIPIENTS),
            MONITOR_DIGEST_TIME="00:00",  # whenever the test runs, today's is due
        )
        page = tmp_path / "digest.html"
        dry = run_monitor(["digest", "--dry-run", "--out", str(page)], env, cwd=tmp_path)
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.startswith("Subject: Defence digest ")
        assert AR_TITLE in dry.stdout and HE_TITLE in dry.stdout
        assert 'dir="rtl"' in page.read_text(encoding="utf-8")
        assert handler.messages == [] and rows(live_seeded) == []

        sent = run_monitor(["digest"], env, cwd=tmp_path)
        assert sent.returncode == 0, sent.stderr
        assert "sent, 3 stories" in sent.stdout
        again = run_monitor(["digest"], env, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "already sent" in again.stdout
    assert len(handler.messages) == 1
    down = run_monitor(["digest", "--force"], env, cwd=tmp_path)  # the server is gone now
    assert down.returncode == 1
    assert "not sent (temporary" in down.stdout


def test_command_over_starttls_with_auth(live_seeded: str, tmp_path: Path) -> None:
    """The configured path end to end: STARTTLS verified against a CA the child trusts
    through SSL_CERT_FILE, AUTH with the password from the environment only."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    handler = Recorder()
    params: dict[str, Any] = {
        "tls_context": server_tls,
        "require_starttls": True,
        "auth_required": True,
        "authenticator": _authenticator,
    }
    with smtp_server(handler, **params) as port:
        env = monitor_env(
            live_seeded,
            MONITOR_SMTP_HOST="127.0.0.1",
            MONITOR_SMTP_PORT=str(port),
            MONITOR_SMTP_SECURITY="starttls",
            MONITOR_SMTP_USER=USER,
            MONITOR_SMTP_PASSWORD=PASSWORD,
            MONITOR_DIGEST_FROM="monitor@example.org",
            MONITOR_DIGEST_TO=",".join(RECIPIENTS),
            MONITOR_DIGEST_TIME="00:00",
            SSL_CERT_FILE=str(ca_file),
        )
        done = run_monitor(["digest"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(handler.messages) == 1
    assert handler.messages[0].tls and handler.messages[0].login == USER.encode()
    assert PASSWORD not in done.stdout + done.stderr


def test_command_refuses_a_future_date(live_seeded: str, tmp_path: Path) -> None:
    done = run_monitor(["digest", "--date", "2999-01-01"], monitor_env(live_seeded), cwd=tmp_path)
    assert done.returncode == 2
    assert "in the future" in done.stderr and "Traceback" not in done.stderr


def test_command_without_mail_settings_says_what_to_set(live_seeded: str, tmp_path: Path) -> None:
    env = monitor_env(live_seeded, MONITOR_DIGEST_TIME="00:00")
    done = run_monitor(["digest"], env, cwd=tmp_path)
    assert done.returncode == 1
    assert "MONITOR_SMTP_HOST" in done.stdout and "MONITOR_DIGEST_TO" in done.stdout
    assert "Traceback" not in done.stderr


def noon_zone() -> str:
    """A fixed-offset zone where it is about noon now, so a digest time of 23:00 has not
    passed yet and one of 00:00 has, whenever the test runs."""
    offset = 12 - datetime.now(UTC).hour  # -11 … +12; Etc/GMT names have the sign inverted
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def test_command_before_the_digest_time_needs_force(live_seeded: str, tmp_path: Path) -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        env = monitor_env(
            live_seeded,
            MONITOR_SMTP_HOST="127.0.0.1",
            MONITOR_SMTP_PORT=str(port),
            MONITOR_SMTP_SECURITY="none",
            MONITOR_DIGEST_FROM="monitor@example.org",
            MONITOR_DIGEST_TO=",".join(RECIPIENTS),
            MONITOR_DIGEST_TZ=noon_zone(),
            MONITOR_DIGEST_TIME="23:00",
        )
        early = run_monitor(["digest"], env, cwd=tmp_path)
        assert early.returncode == 0, early.stderr
        assert "due at 23:00" in early.stdout and "--force" in early.stdout
        assert handler.messages == [] and rows(live_seeded) == []
        forced = run_monitor(["digest", "--force"], env, cwd=tmp_path)
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert "sent, 3 stories" in forced.stdout
    assert len(handler.messages) == 1
    help_text = " ".join(run_monitor(["digest", "--help"], env, cwd=tmp_path).stdout.split())
    assert "once today's MONITOR_DIGEST_TIME has passed" in help_text


def test_scheduled_command_fails_while_an_attempt_is_interrupted(
    live_seeded: str, tmp_path: Path
) -> None:
    """`monitor digest --scheduled` is the daemon's child: exit 1 makes the daemon log it as
    a failure at each recheck (it logged "ok" before)."""
    zone = noon_zone()
    today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
    with session_factory(get_engine(live_seeded))() as session:
        session.add(
            Digest(
                digest_date=today,
                window_start=datetime.now(UTC) - timedelta(days=1),
                window_end=datetime.now(UTC) - timedelta(hours=1),
                recipients=", ".join(RECIPIENTS),
                status=DigestStatus.INTERRUPTED,
                attempts=1,
                created_at=datetime.now(UTC) - timedelta(hours=1),
                story_count=3,
                error="no outcome recorded: the sender stopped",
            )
        )
        session.commit()
    env = monitor_env(
        live_seeded,
        MONITOR_SMTP_HOST="127.0.0.1",
        MONITOR_SMTP_PORT=str(free_port()),
        MONITOR_SMTP_SECURITY="none",
        MONITOR_DIGEST_FROM="monitor@example.org",
        MONITOR_DIGEST_TO=",".join(RECIPIENTS),
        MONITOR_DIGEST_TZ=zone,
        MONITOR_DIGEST_TIME="00:00",
    )
    done = run_monitor(["digest", "--scheduled"], env, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "warning" in done.stdout and "interrupted" in done.stdout
    assert "Traceback" not in done.stderr
    assert len(rows(live_seeded)) == 1  # reported, nothing resent


def test_evidence_terms_leave_out_matches_that_subtracted() -> None:
    from monitor.digest_job import _terms

    evidence: dict[str, object] = {
        "matches": [
            {"rule": "drone*", "text": "drones", "points": 3},
            {"rule": "@civilian", "text": "visitors", "points": -2},
            {"rule": "partenariat", "text": "partenariat", "points": 1},
            {"rule": "drone*", "text": "drones", "points": 3},
        ]
    }
    assert _terms(evidence) == ("drones", "partenariat")
