"""`monitor demo`: the whole product offline, on bundled sample feeds served on loopback."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from db.engine import get_engine, session_factory
from db.queries import ArticleFilter, article_records
from monitor.cli import AppContext, pass_app
from monitor.cli.articles import ARTICLE_COLUMNS
from monitor.cli.crawl import run_crawl, summarise
from monitor.cli.feeds import sync_registry
from monitor.cli.output import emit
from monitor.demo.server import serve_demo_feeds
from monitor.digest_job import run_digest

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"
DEFAULT_DATABASE = Path("demo-monitor.db")


@click.command()
@click.option(
    "--database",
    "db_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_DATABASE,
    show_default=True,
    help="SQLite file to create (replaced if it exists).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the registry used and the digest written.",
)
@click.option("--force", is_flag=True, help="Replace --database even if it is not the demo's file.")
@pass_app
def demo(app: AppContext, db_path: Path, out_dir: Path, force: bool) -> None:
    """Run the monitor offline on bundled sample feeds, and show what it stored.

    Serves about ten sample feeds (Moroccan and Israeli outlets; Arabic, French, Hebrew,
    English) on 127.0.0.1, crawls them into a fresh SQLite file, prints the articles, the
    syndicated stories and the defence-cooperation tags, and writes the digest as HTML.

    \b
    Examples:
      monitor demo
      monitor demo --database /tmp/demo.db --out /tmp/demo
    """
    if db_path.exists() and db_path.name != DEFAULT_DATABASE.name and not force:
        raise click.ClickException(
            f"{db_path} exists and the demo would replace it; choose another --database, "
            "or add --force if it really is a scratch file"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db_path.resolve()}"
    server = serve_demo_feeds()
    try:
        registry = out_dir / "feeds.yaml"
        template = (DEMO_DIR / "feeds.yaml").read_text(encoding="utf-8")
        registry.write_text(template.replace("{port}", str(server.server_port)), "utf-8")
        app._config = dataclasses.replace(
            app.config, database_url=url, feeds_file=registry, download_delay=0.0
        )
        sync_registry(app.database(), registry)
        stats = run_crawl(app, everything=True, log_level="ERROR")
    finally:
        server.shutdown()
        server.server_close()
    click.echo(summarise(stats))
    with session_factory(get_engine(url))() as session:
        records = article_records(session, ArticleFilter(limit=None))
    click.echo(f"\n{len(records)} articles stored in {db_path}:\n")
    emit(records, "table", ARTICLE_COLUMNS)
    digest_path = out_dir / "digest.html"
    run = run_digest(app.config, datetime.now(UTC), dry_run=True, out=digest_path)
    click.echo(f"\n{run.message}; the HTML is in {digest_path}\n")
    if run.rendered is not None:
        click.echo(run.rendered.text)
    click.echo(next_steps(db_path))


def next_steps(db_path: Path) -> str:
    """What to type next: the README's examples, pointed at the demo's database."""
    lines = [
        "The feed walla-he answers 404 on purpose: `monitor feeds list --failing` shows it.",
        "To try the README's examples on the demo data, paste:",
    ]
    if shutil.which("monitor") is None and sys.prefix != sys.base_prefix:  # venv not active
        lines.append(f"  . {Path(sys.prefix) / 'bin' / 'activate'}")
    lines += [
        f"  export MONITOR_DATABASE_URL=sqlite:///{db_path.resolve()}",
        "  monitor articles --tag defense-cooperation --since 7d",
        "(or name it each time: monitor --database {db_path} stories --min-outlets 3)".replace(
            "{db_path}", str(db_path)
        ),
    ]
    return "\n" + "\n".join(lines)


commands = [demo]
