"""The daemon: its lease on real databases, its log lines, and the real process end to end."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from db.engine import get_engine
from db.models import DaemonState
from monitor.cli.run import EventFormatter
from monitor.daemon import Daemon, DaemonSettings, Lease, LeaseHeld, event


def test_lease_is_exclusive_and_released(db_url: str) -> None:
    engine = get_engine(db_url)
    first, second = Lease(engine), Lease(engine)
    first.pid = os.getppid()  # as if held by another live process on this host
    assert first.acquire() == "lease created"
    with pytest.raises(LeaseHeld, match=r"another daemon is running on this database: pid"):
        second.acquire()
    assert first.renew()
    first.release()
    assert "lease was free" in second.acquire()
    assert not first.renew()  # the old holder learns it lost the lease
    with Session(engine) as session:
        row = session.get(DaemonState, "daemon")
        assert row is not None and row.owner == second.owner


def test_stale_heartbeat_is_taken_over(db_url: str) -> None:
    engine = get_engine(db_url)
    holder = Lease(engine)
    holder.acquire()
    with Session(engine) as session, session.begin():
        row = session.get(DaemonState, "daemon")
        assert row is not None
        row.owner = f"elsewhere:{os.getpid()}:abcd"
        row.heartbeat_at = datetime.now(UTC) - timedelta(seconds=30)
    with pytest.raises(LeaseHeld, match="on elsewhere, last heartbeat 30s ago"):
        Lease(engine).acquire()
    with Session(engine) as session, session.begin():
        row = session.get(DaemonState, "daemon")
        assert row is not None
        row.heartbeat_at = datetime.now(UTC) - timedelta(seconds=600)
    note = Lease(engine).acquire()
    assert note.startswith("took over from elsewhere:") and "no heartbeat for 600s" in note


def test_dead_process_on_this_host_is_taken_over_at_once(db_url: str) -> None:
    engine = get_engine(db_url)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: the pid is free
    holder = Lease(engine)
    holder.acquire()
    with Session(engine) as session, session.begin():
        row = session.get(DaemonState, "daemon")
        assert row is not None
        row.owner = f"{holder.host}:{dead.pid}:dead"
        row.pid = dead.pid
    note = Lease(engine).acquire()  # heartbeat is fresh, but its process is gone
    assert "its process is gone" in note


def test_lease_keeps_tick_history(db_url: str) -> None:
    engine = get_engine(db_url)
    lease = Lease(engine)
    lease.acquire()
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    lease.record_tick(at, "ok in 1.2s")
    lease.release()
    Lease(engine).acquire()
    with Session(engine) as session:
        row = session.get(DaemonState, "daemon")
        assert row is not None
        assert row.last_tick_at == at and row.last_tick_status == "ok in 1.2s"


def test_jobs_are_guarded_against_overlap_and_silent_misfires(sqlite_url: str) -> None:
    settings = DaemonSettings(
        database_url=sqlite_url,
        poll_tick=30,
        crawl_timeout=120,
        digest_time=time(7, 0),
        digest_tz=ZoneInfo("Africa/Casablanca"),
    )
    daemon = Daemon(settings)
    scheduler = daemon._build_scheduler()
    crawl, digest = scheduler.get_job("crawl"), scheduler.get_job("digest")
    assert (crawl.max_instances, crawl.coalesce, crawl.misfire_grace_time) == (1, True, 30)
    assert (digest.max_instances, digest.coalesce) == (1, True)
    assert digest.misfire_grace_time >= 600
    # The digest fires at 07:00 Casablanca time, whatever the host's zone.
    fire = digest.trigger.get_next_fire_time(None, datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    local = fire.astimezone(ZoneInfo("Africa/Casablanca"))
    assert (local.hour, local.minute) == (7, 0)
    assert local.date().isoformat() == "2026-03-02"
    daemon.engine.dispose()


def test_event_lines_are_single_line_key_values() -> None:
    formatter = EventFormatter()
    logger = logging.getLogger("monitor.test")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        event(logger, "crawl.end", rc=0, status="ok in 1.2s", feed="hespress-ar")
        event(logger, "feed.error", level=logging.WARNING, error="bad\nline", title='قال "نعم"')
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logger.exception("unexpected")
    finally:
        logger.removeHandler(handler)
    lines = [formatter.format(record) for record in records]
    assert all("\n" not in line for line in lines)
    assert " event=crawl.end rc=0 " in lines[0]
    assert 'status="ok in 1.2s" feed=hespress-ar' in lines[0]
    assert "level=warning" in lines[1]
    assert 'error="bad\\nline"' in lines[1]
    assert 'title="قال \\"نعم\\""' in lines[1]
    assert "exc=" in lines[2] and "ValueError: boom" in lines[2]
    parsed = json.loads(lines[1].split("title=", 1)[1])
    assert parsed == 'قال "نعم"'
