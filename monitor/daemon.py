"""`monitor run`: the daemon. The clock ticks; the database says which feeds are due.

Contract:

* One daemon per database. The lock is a lease row in `daemon_state` (name "daemon"): the
  holder renews `heartbeat_at` every HEARTBEAT_EVERY seconds; another daemon may take the row
  over when the heartbeat is older than LEASE_TTL, or at once when the holder ran on this host
  and its process is gone (so a restart after SIGKILL is not kept waiting). Takeover is a
  compare-and-swap on the row, so two starters cannot both win. The same row carries the
  heartbeat and last tick that `monitor status` shows. One mechanism for SQLite and
  PostgreSQL; an advisory lock would need a second one for SQLite and says nothing to status.
* Crawl tick every MONITOR_POLL_TICK seconds, run as a child process (`monitor crawl`, due
  feeds only, most overdue first) with a time limit of MONITOR_CRAWL_TIMEOUT: Twisted's reactor
  never runs here, and a crash or leak in a crawl dies with its process. The first tick runs
  at start, so feeds that fell due while the daemon was down are polled first.
* Daily digest at MONITOR_DIGEST_TIME in MONITOR_DIGEST_TZ, as the child
  `monitor digest --scheduled`, which sends only what is due and never mails a date twice.
  The same child also runs at start and every DIGEST_RECHECK seconds: a digest missed while
  the daemon was down goes out on restart, and a failed send is retried on its schedule.
* Both jobs run with `max_instances=1` (a tick never overlaps the previous one),
  `coalesce=True` and a misfire grace that fits their period; missed, skipped and failed runs
  are logged.
* SIGTERM/SIGINT: stop scheduling, ask running children to stop (SIGTERM: Scrapy finishes the
  requests in flight, every stored item is already committed), SIGKILL what is left after
  STOP_GRACE seconds, release the lease, exit 0 -- within 30 s in all.
* Logs: one event per line on stderr (`event()` here; the formatter lives in `monitor run`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from secrets import token_hex
from types import FrameType
from typing import Any, Self
from zoneinfo import ZoneInfo

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from db.engine import display_url, open_database
from db.models import DaemonState, Feed
from monitor.health import LEASE_NAME, LEASE_TTL, HealthServer
from settings.config import Config

HEARTBEAT_EVERY = 5.0  # seconds between heartbeats (LEASE_TTL, in monitor.health, is 12 of them)
STOP_GRACE = 25.0  # seconds children get after SIGTERM before SIGKILL (the whole stop: < 30 s)
DIGEST_TIMEOUT = 600.0  # seconds a digest child may run
DIGEST_MISFIRE_GRACE = 3600  # a digest up to an hour late (host asleep, busy) still goes out
DIGEST_RECHECK = 900  # seconds between catch-up/retry runs of `monitor digest --scheduled`

log = logging.getLogger("monitor.daemon")


def utcnow() -> datetime:
    return datetime.now(UTC)


class LeaseHeld(RuntimeError):
    """Another live daemon holds the database; the message says which and how to check."""


@dataclass(frozen=True)
class DaemonSettings:
    database_url: str
    poll_tick: float
    crawl_timeout: float
    digest_time: clock_time
    digest_tz: ZoneInfo
    health_port: int | None = None
    heartbeat_every: float = HEARTBEAT_EVERY
    lease_ttl: float = LEASE_TTL
    stop_grace: float = STOP_GRACE
    digest_timeout: float = DIGEST_TIMEOUT

    @classmethod
    def from_config(cls, config: Config) -> Self:
        return cls(
            database_url=config.database_url,
            poll_tick=float(config.poll_tick),
            crawl_timeout=float(config.crawl_timeout),
            digest_time=config.digest_time,
            digest_tz=config.digest_tz,
            health_port=config.health_port,
        )


# ---------------------------------------------------------------------------------------------
# The lease: single instance, heartbeat, last tick.


def _process_gone(pid: int | None) -> bool:
    """True when no live process has this pid on this host (a zombie counts as gone)."""
    if pid is None:
        return True
    if pid == os.getpid():  # the row names us, but we hold nothing yet: a previous life
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    try:  # a zombie still answers kill(0): look at its state in /proc
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[-1].split()
    return bool(fields) and fields[0] in {"Z", "X"}


class Lease:
    """The `daemon_state` row that makes one daemon per database (see the module docstring)."""

    def __init__(self, engine: Engine, *, ttl: float = LEASE_TTL, name: str = LEASE_NAME) -> None:
        self.engine = engine
        self.name = name
        self.ttl = timedelta(seconds=ttl)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.owner = f"{self.host}:{self.pid}:{token_hex(4)}"

    def acquire(self) -> str:
        """Take the lease or raise LeaseHeld; returns a note on whom it was taken from."""
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            row = session.get(DaemonState, self.name)
            if row is None:
                session.add(self._fresh_row(now))
                try:
                    session.flush()
                except IntegrityError:
                    raise LeaseHeld("another daemon started at the same moment") from None
                return "lease created"
            note = self._check_holder(row, now)
            old_owner, old_beat = row.owner, row.heartbeat_at
            taken = session.connection().execute(
                update(DaemonState)
                .where(
                    DaemonState.name == self.name,
                    DaemonState.owner.is_(None)
                    if old_owner is None
                    else DaemonState.owner == old_owner,
                    DaemonState.heartbeat_at.is_(None)
                    if old_beat is None
                    else DaemonState.heartbeat_at == old_beat,
                )
                .values(owner=self.owner, pid=self.pid, started_at=now, heartbeat_at=now)
            )
            if taken.rowcount != 1:
                raise LeaseHeld("another daemon took the lock at the same moment")
        return note

    def _fresh_row(self, now: datetime) -> DaemonState:
        return DaemonState(
            name=self.name, owner=self.owner, pid=self.pid, started_at=now, heartbeat_at=now
        )

    def _check_holder(self, row: DaemonState, now: datetime) -> str:
        if row.owner is None:
            return "lease was free"
        host = row.owner.split(":", 1)[0]
        age = now - row.heartbeat_at if row.heartbeat_at else self.ttl
        if host == self.host and _process_gone(row.pid):
            return f"took over from {row.owner}: its process is gone"
        if age >= self.ttl:
            return f"took over from {row.owner}: no heartbeat for {age.total_seconds():.0f}s"
        since = f"{row.started_at:%Y-%m-%d %H:%M:%S} UTC" if row.started_at else "unknown"
        raise LeaseHeld(
            f"another daemon is running on this database: pid {row.pid} on {host}, "
            f"last heartbeat {age.total_seconds():.0f}s ago, started {since}. Stop it first, "
            f"or wait {self.ttl.total_seconds():.0f}s after it died; `monitor status` shows it."
        )

    def renew(self) -> bool:
        """Refresh the heartbeat; False when the lease is no longer ours."""
        return self._update(heartbeat_at=utcnow())

    def record_tick(self, at: datetime, status: str) -> None:
        self._update(last_tick_at=at, last_tick_status=status)

    def release(self) -> None:
        self._update(owner=None, heartbeat_at=utcnow())

    def _update(self, **values: Any) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(
                update(DaemonState)
                .where(DaemonState.name == self.name, DaemonState.owner == self.owner)
                .values(**values)
            )
            return result.rowcount == 1


# ---------------------------------------------------------------------------------------------
# Children: `monitor crawl` and `monitor digest` with a time limit, stoppable at shutdown.

# Runs in the child before the CLI: on Linux the kernel sends SIGTERM to the child when the
# daemon dies (even by SIGKILL), so an orphaned crawl never runs beside the next daemon's.
_CHILD_BOOT = """
import sys
if sys.platform == "linux":
    import ctypes, os, signal
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(sys.argv[1]):
        sys.exit(75)
from monitor.cli import main
sys.argv = ["monitor", *sys.argv[2:]]
main()
"""


def child_argv(*args: str) -> list[str]:
    """The command line of a `monitor ARGS…` child of this process."""
    return [sys.executable, "-c", _CHILD_BOOT, str(os.getpid()), *args]


@dataclass
class ChildResult:
    label: str
    returncode: int | None
    duration: float
    timed_out: bool = False
    stopped: bool = False  # stopped because the daemon is stopping
    output: str = ""  # the child's stdout (its summary line), trimmed

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        if self.timed_out:
            return f"timed out after {self.duration:.0f}s, stopped"
        if self.stopped:
            return f"stopped by shutdown after {self.duration:.1f}s"
        if self.returncode == 0:
            return f"ok in {self.duration:.1f}s"
        return f"exit {self.returncode} after {self.duration:.1f}s"


@dataclass
class _Running:
    proc: subprocess.Popen[bytes]
    interruptible: bool
    done: threading.Event = field(default_factory=threading.Event)


class Children:
    """Runs child processes one call at a time per thread; `stop_all` ends them all."""

    def __init__(self, stop_grace: float = STOP_GRACE) -> None:
        self.stop_grace = stop_grace
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}
        self._stopping = False

    def run(
        self, label: str, argv: list[str], timeout: float, *, interruptible: bool = True
    ) -> ChildResult:
        """Run `argv` to its end or `timeout`. At shutdown an interruptible child gets SIGTERM
        at once (a crawl stops cleanly on it); any other is left to finish within the grace
        (a digest halfway through sending mail is better finished than cut)."""
        started = time.monotonic()
        with self._lock:
            if self._stopping:
                return ChildResult(label, None, 0.0, stopped=True)
            # Own session: a terminal's Ctrl-C reaches only the daemon, which decides; and
            # killpg reaches the crawl's own children (a headless browser) too.
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True
            )
            running = _Running(proc, interruptible)
            self._running[proc.pid] = running
        event(log, f"{label}.start", pid=proc.pid)
        timed_out, output = False, b""
        try:
            try:
                output, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                event(log, f"{label}.timeout", level=logging.WARNING, pid=proc.pid, limit=timeout)
                self._end(proc, self.stop_grace)
                output, _ = proc.communicate()
        finally:
            with self._lock:
                self._running.pop(proc.pid, None)
                stopped = self._stopping
            running.done.set()
        return ChildResult(
            label,
            proc.returncode,
            time.monotonic() - started,
            timed_out,
            stopped and not timed_out and proc.returncode != 0,
            " ".join(output.decode("utf-8", "replace").split())[:500],
        )

    def stop_all(self) -> None:
        """SIGTERM interruptible children, again halfway through `stop_grace` (Scrapy stops
        at once on a second one), SIGKILL what is left at the end of it. The grace is re-read
        while waiting: a second Ctrl-C sets it to 0."""
        with self._lock:
            self._stopping = True
            running = list(self._running.values())
        started = time.monotonic()
        for child in running:
            if child.interruptible:
                _signal_group(child.proc, signal.SIGTERM)
        for child in running:
            nudged = not child.interruptible
            while not child.done.wait(0.2):
                elapsed = time.monotonic() - started
                if not nudged and elapsed >= self.stop_grace / 2:
                    event(log, "child.hurry", pid=child.proc.pid)
                    _signal_group(child.proc, signal.SIGTERM)
                    nudged = True
                if elapsed >= self.stop_grace:
                    event(log, "child.kill", level=logging.WARNING, pid=child.proc.pid)
                    _signal_group(child.proc, signal.SIGKILL)
                    child.done.wait(5)
                    break

    def _end(self, proc: subprocess.Popen[bytes], grace: float) -> None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


# ---------------------------------------------------------------------------------------------
# The daemon.


@dataclass
class DaemonStats:
    """In-memory counters for /metrics and /healthz (the database holds the rest)."""

    started_at: datetime = field(default_factory=utcnow)
    ticks: dict[str, int] = field(default_factory=dict)  # result -> count
    crawl_seconds_sum: float = 0.0
    crawl_seconds_count: int = 0
    last_crawl_seconds: float | None = None
    last_tick_at: datetime | None = None
    last_tick_status: str | None = None
    skipped_ticks: int = 0
    missed_runs: int = 0
    digests: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, table: dict[str, int], key: str) -> None:
        with self.lock:
            table[key] = table.get(key, 0) + 1


class Daemon:
    """Owns the scheduler, the lease, the children and the optional health endpoint."""

    def __init__(
        self,
        settings: DaemonSettings,
        *,
        child: Callable[..., list[str]] = child_argv,
    ) -> None:
        self.settings = settings
        self.child = child
        self.engine = open_database(settings.database_url)
        self.lease = Lease(self.engine, ttl=settings.lease_ttl)
        self.children = Children(settings.stop_grace)
        self.stats = DaemonStats()
        self.stop_requested = threading.Event()
        self.stop_reason = ""
        self.exit_code = 0
        self.scheduler: Any = None
        self._digest_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code (raises LeaseHeld before starting)."""
        note = self.lease.acquire()
        event(
            log,
            "daemon.start",
            pid=os.getpid(),
            database=display_url(self.settings.database_url),
            tick=self.settings.poll_tick,
            crawl_timeout=self.settings.crawl_timeout,
            lease=note,
            **self._overdue(),
        )
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        health = None
        try:
            health = self._start_health()  # before the first crawl: its counters start at 0
            self.scheduler = self._build_scheduler()
            self.scheduler.start()
            self._beat_until_stopped()
        finally:
            self._shutdown()
            if health is not None:
                health.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self.exit_code

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop_requested.is_set():  # second signal: do not wait for children any longer
            self.children.stop_grace = 0
            return
        self.stop_reason = signal.Signals(signum).name
        self.stop_requested.set()

    def _beat_until_stopped(self) -> None:
        while not self.stop_requested.wait(self.settings.heartbeat_every):
            try:
                held = self.lease.renew()
            except SQLAlchemyError as exc:  # database briefly away: keep going, say so
                event(log, "heartbeat.error", level=logging.WARNING, error=_one_line(exc))
                continue
            if not held:
                event(log, "lease.lost", level=logging.ERROR, owner=self.lease.owner)
                self.stop_reason, self.exit_code = "lease lost", 1
                self.stop_requested.set()

    def _shutdown(self) -> None:
        started = time.monotonic()
        event(log, "daemon.stopping", reason=self.stop_reason or "error")
        if self.scheduler is not None:
            self.scheduler.pause()  # no new runs from here on
        self.children.stop_all()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        try:
            if self.exit_code == 0:
                self.lease.release()
        except SQLAlchemyError as exc:
            event(log, "lease.release_error", level=logging.WARNING, error=_one_line(exc))
        self.engine.dispose()
        event(log, "daemon.stop", seconds=round(time.monotonic() - started, 2))

    # -- jobs --------------------------------------------------------------------------------

    def _build_scheduler(self) -> Any:
        tick = self.settings.poll_tick
        scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(max_workers=4)}
        )
        scheduler.add_listener(
            self._on_job_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES
        )
        scheduler.add_job(
            self.crawl_tick,
            IntervalTrigger(seconds=tick, timezone=UTC),
            id="crawl",
            max_instances=1,
            coalesce=True,
            # A run may start up to one tick late (a busy host); later than that it is
            # logged as missed and the next tick does the work.
            misfire_grace_time=max(int(tick), 1),
            next_run_time=utcnow(),  # at once: feeds that fell due while we were down
        )
        at = self.settings.digest_time
        scheduler.add_job(
            self.digest_job,
            CronTrigger(hour=at.hour, minute=at.minute, timezone=self.settings.digest_tz),
            id="digest",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=DIGEST_MISFIRE_GRACE,
        )
        scheduler.add_job(
            self.digest_job,
            IntervalTrigger(seconds=DIGEST_RECHECK, timezone=UTC),
            id="digest-recheck",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=DIGEST_RECHECK,
            next_run_time=utcnow(),  # catch up at once on a digest missed while we were down
        )
        return scheduler

    def _on_job_event(self, job_event: Any) -> None:
        code = job_event.code
        if code == EVENT_JOB_MAX_INSTANCES:
            with self.stats.lock:
                self.stats.skipped_ticks += 1
            event(log, f"{job_event.job_id}.skipped", reason="previous run still going")
        elif code == EVENT_JOB_MISSED:
            with self.stats.lock:
                self.stats.missed_runs += 1
            late = utcnow() - job_event.scheduled_run_time
            event(
                log,
                f"{job_event.job_id}.missed",
                level=logging.WARNING,
                scheduled=job_event.scheduled_run_time.isoformat(),
                late_s=round(late.total_seconds(), 1),
            )
        else:
            event(
                log,
                f"{job_event.job_id}.error",
                level=logging.ERROR,
                error=_one_line(job_event.exception),
            )

    def crawl_tick(self) -> None:
        """One crawl of the due feeds in a child process; the outcome goes on the lease row."""
        if self.stop_requested.is_set():
            return
        started = utcnow()
        result = self.children.run("crawl", self.child("crawl"), self.settings.crawl_timeout)
        status = result.describe()
        key = "timeout" if result.timed_out else "ok" if result.ok else "failed"
        if result.stopped:
            key = "stopped"
        self.stats.count(self.stats.ticks, key)
        with self.stats.lock:
            self.stats.crawl_seconds_sum += result.duration
            self.stats.crawl_seconds_count += 1
            self.stats.last_crawl_seconds = result.duration
            self.stats.last_tick_at, self.stats.last_tick_status = started, status
        level = logging.INFO if result.ok or result.stopped else logging.WARNING
        event(
            log,
            "crawl.end",
            level=level,
            result=key,
            rc=result.returncode,
            status=status,
            summary=result.output,
        )
        try:
            self.lease.record_tick(
                started, f"{status}: {result.output}" if result.output else status
            )
        except SQLAlchemyError as exc:
            event(log, "tick.record_error", level=logging.WARNING, error=_one_line(exc))

    def digest_job(self) -> None:
        """The daily digest, in a child process (`monitor digest --scheduled` decides what is
        due); the daily and the recheck job never run it twice at once."""
        if self.stop_requested.is_set():
            return
        if not self._digest_lock.acquire(blocking=False):
            event(log, "digest.skipped", reason="another digest run is going")
            return
        try:
            result = self.children.run(
                "digest",
                self.child("digest", "--scheduled"),
                self.settings.digest_timeout,
                interruptible=False,
            )
        finally:
            self._digest_lock.release()
        key = "ok" if result.ok else "stopped" if result.stopped else "failed"
        self.stats.count(self.stats.digests, key)
        level = logging.INFO if result.ok or result.stopped else logging.ERROR
        event(
            log,
            "digest.end",
            level=level,
            result=key,
            status=result.describe(),
            summary=result.output,
        )

    # -- helpers -----------------------------------------------------------------------------

    def _overdue(self) -> dict[str, Any]:
        """How many feeds fell due while no daemon ran (logged at start)."""
        now = utcnow()
        with Session(self.engine) as session:
            count, oldest = session.execute(
                select(func.count(), func.min(Feed.next_poll_at)).where(
                    Feed.enabled.is_(True), Feed.next_poll_at <= now
                )
            ).one()
        fields: dict[str, Any] = {"overdue_feeds": int(count or 0)}
        if oldest is not None:
            fields["most_overdue_s"] = round((now - oldest).total_seconds())
        return fields

    def _start_health(self) -> Any:
        if self.settings.health_port is None:
            return None
        server = HealthServer(self, self.settings.health_port)
        event(log, "health.listen", url=server.url)
        return server


def _one_line(exc: BaseException | None) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split()) if exc else ""


def event(logger: logging.Logger, name: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event: `name` is the message, `fields` travel as `record.fields`
    (the formatter installed by `monitor run` prints them as key=value on the same line)."""
    logger.log(level, name, extra={"fields": fields})
