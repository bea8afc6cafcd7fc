"""An optional part that cannot be imported stops only the command that needs it, in one line.

The console script runs for real with a `sitecustomize` on its path that makes the named
modules fail to import, as they do on an install that lacks them (or, for trafilatura, one
whose lxml lacks its separate `lxml_html_clean` cleaner).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.feedserver import FeedServer, Route
from tests.helpers import monitor_env, registry, rss, run_monitor

BLOCKER = """
import importlib.abc, os, sys

BLOCKED = set(filter(None, os.environ.get("TEST_BLOCK_IMPORTS", "").split(",")))

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
"""


def blocked_env(tmp_path: Path, db_url: str, *modules: str, **extra: str) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    return monitor_env(db_url, PYTHONPATH=str(site), TEST_BLOCK_IMPORTS=",".join(modules), **extra)


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_the_web_view_without_datasette_names_the_package(tmp_path: Path) -> None:
    env = blocked_env(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", "datasette")
    done = run_monitor(["browse", "--port", "1"], env)
    assert done.returncode == 1
    line = one_line_error(done.stderr)
    assert "the web view" in line and "pip install datasette" in line
    # The commands that do not need it still work.
    assert run_monitor(["articles"], env).returncode == 0
    assert run_monitor(["status"], env).returncode == 0


def test_postgresql_without_its_driver_names_the_package(tmp_path: Path) -> None:
    env = blocked_env(tmp_path, "postgresql://monitor@127.0.0.1:1/monitor", "psycopg")
    done = run_monitor(["articles"], env)
    assert done.returncode == 1
    line = one_line_error(done.stderr)
    assert "PostgreSQL is unavailable" in line and "pip install 'psycopg[binary]'" in line
    sqlite = blocked_env(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", "psycopg")
    assert run_monitor(["articles"], sqlite).returncode == 0


@pytest.mark.parametrize("module", ["trafilatura", "lxml_html_clean"])
def test_a_crawl_without_the_extractor_stores_the_feeds_and_says_why_once(
    tmp_path: Path, feed_server: FeedServer, module: str
) -> None:
    items = [
        {"title": f"Article {n}", "link": f"https://news.example/a/{n}", "description": "x" * 300}
        for n in range(3)
    ]
    feed_server.routes["/full.xml"] = Route(rss(items))
    feed_server.routes["/plain.xml"] = Route(
        rss([{"title": "Plain", "link": "https://news.example/p"}])
    )
    feeds = registry(
        feed_server,
        [
            {"id": "full-en", "outlet": "Full", "path": "/full.xml", "fulltext": "true"},
            {"id": "plain-en", "outlet": "Plain", "path": "/plain.xml"},
        ],
    )
    path = tmp_path / "feeds.yaml"
    path.write_text(feeds, encoding="utf-8")
    env = blocked_env(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", module)
    assert run_monitor(["feeds", "sync", "--file", str(path)], env).returncode == 0
    done = run_monitor(["crawl", "--all"], env)
    assert done.returncode == 0, done.stderr
    assert "4 new" in done.stdout
    said = [line for line in done.stderr.splitlines() if "full text is off" in line]
    assert len(said) == 1 and "pip install trafilatura lxml_html_clean" in said[0], done.stderr
    assert "Traceback" not in done.stderr
