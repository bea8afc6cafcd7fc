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

import pytest
import trustme
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from db import digests as ledger
from db.digests import DigestStatus
from db.engine import get_engine, session_factory
from db.models import Article, ArticleTag, Digest, Feed, Outlet, Story, Tag
from monitor.digest_job import RunOutcome, run_digest, run_due
from settings.config import Config, load_config
from tests.helpers import monitor_env, run_monitor
from tests.test_mail import (
    PASSWORD,
    USER,
    Recorder,
    _authenticator,
    free_port,
    smtp_server,
)

# 07:05 in Casablanca (UTC+1 in June): five minutes after the default MONITOR_DIGEST_TIME.
NOW = datetime(2025, 6, 11, 6, 5, tzinfo=UTC)
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
    assert nxt.digest is not None and nxt.digest.window.start == NOW
    text = text_part(handler.messages[1].content)
    assert "Exercice conjoint" in text
    assert AR_TITLE not in text  # it was in yesterday's digest


def seed_one_more(session: Session, seen: datetime) -> None:
    outlet = session.execute(select(Outlet).where(Outlet.slug == "le360")).scalar_one()
    feed = session.execute(select(Feed).where(Feed.outlet_id == outlet.id)).scalar_one()
    tag = session.execute(select(Tag).where(Tag.slug == "defense-cooperation")).scalar_one()
    row = Article(
        outlet_id=outlet.id,
        feed_id=feed.id,
        guid="late",
        url="https://le360.example/late",
        canonical_url="https://le360.example/late",
        title="Exercice conjoint à Agadir",
        language="fr",
        published_at=seen,
        first_seen_at=seen,
        updated_at=seen,
        content_hash="f" * 64,
    )
    session.add(row)
    session.flush()
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


def test_a_missed_day_is_folded_into_the_next_digest(seeded: str, tmp_path: Path) -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        config = config_for(seeded, tmp_path, port)
        run_digest(config, NOW - timedelta(days=3))  # sent three days ago; nothing since
        result = run_digest(config, NOW)
    assert result.digest is not None
    assert result.digest.window.start == NOW - timedelta(days=3)
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
    done = run_monitor(["digest"], monitor_env(live_seeded), cwd=tmp_path)
    assert done.returncode == 1
    assert "MONITOR_SMTP_HOST" in done.stdout and "MONITOR_DIGEST_TO" in done.stdout
    assert "Traceback" not in done.stderr


def test_evidence_terms_leave_out_matches_that_subtracted() -> None:
    from monitor.digest_job import _terms

    evidence = {
        "matches": [
            {"rule": "drone*", "text": "drones", "points": 3},
            {"rule": "@civilian", "text": "visitors", "points": -2},
            {"rule": "partenariat", "text": "partenariat", "points": 1},
            {"rule": "drone*", "text": "drones", "points": 3},
        ]
    }
    assert _terms(evidence) == ("drones", "partenariat")
