"""`monitor run`: the daemon in the foreground, logging one event per line to stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import click

from monitor.cli import AppContext, pass_app
from monitor.daemon import Daemon, DaemonSettings, LeaseHeld
from monitor.tagging import RulesError, load_rules


def _value(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(UTC).isoformat()
    text = str(value)
    if text and not any(ch.isspace() or ch in '"=\\' for ch in text):
        return text
    return json.dumps(text, ensure_ascii=False)  # quotes, and escapes newlines


class EventFormatter(logging.Formatter):
    """`ts=… level=… logger=… event=… key=value…` on one line (logfmt), whatever the record:
    our events carry `record.fields`; other libraries' messages and tracebacks are quoted."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = [
            f"ts={stamp.replace('+00:00', 'Z')}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"event={_value(record.getMessage())}",
        ]
        fields: dict[str, Any] = getattr(record, "fields", {})
        parts += [f"{key}={_value(value)}" for key, value in fields.items()]
        if record.exc_info:
            parts.append(f"exc={_value(self.formatException(record.exc_info))}")
        return " ".join(parts)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EventFormatter())
    # APScheduler's own warnings (skipped, missed runs) are logged by the daemon as events;
    # only its errors come through.
    for name, logger_level in (("monitor", level), ("apscheduler", "ERROR")):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logger_level)
        logger.propagate = False


@click.command()
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    help="Daemon log level (crawls log at WARNING).",
)
@pass_app
def run(app: AppContext, log_level: str) -> None:
    """Run the daemon: crawl due feeds every MONITOR_POLL_TICK seconds, mail the daily digest.

    Each crawl runs as a child process (`monitor crawl`) limited to MONITOR_CRAWL_TIMEOUT
    seconds; the digest goes out at MONITOR_DIGEST_TIME in MONITOR_DIGEST_TZ. One daemon per
    database: a second one refuses to start. SIGTERM or Ctrl-C stops it within 30 seconds,
    exit status 0. Logs go to stderr, one `key=value` line per event. With
    MONITOR_HEALTH_PORT set, http://127.0.0.1:PORT/healthz and /metrics answer.

    \b
    Examples:
      monitor run
      MONITOR_POLL_TICK=30 MONITOR_HEALTH_PORT=9464 monitor run
      monitor run 2>>/var/log/monitor.log &
    """
    try:  # a broken rule file would make every digest quietly empty: refuse to start
        load_rules(app.config.topics_file)
    except RulesError as exc:
        raise click.ClickException(f"not starting: {exc}") from None
    configure_logging(log_level)
    settings = DaemonSettings.from_config(app.config)
    try:
        code = Daemon(settings).run()
    except LeaseHeld as exc:
        raise click.ClickException(str(exc)) from None
    if code:
        sys.exit(code)


commands = [run]
