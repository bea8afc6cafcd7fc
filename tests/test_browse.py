"""`monitor browse`: the Datasette web view, driven by a real headless Chromium.

Chromium is Debian's `chromium` package, driven over the DevTools protocol on a pipe (no
driver, no download). The right-to-left check is made on the screenshot itself: the ink
of an Arabic or Hebrew title hugs the right edge of its cell, a Latin one the left; and
the DOM agrees that the first letter of an RTL title is drawn right of its last.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import fcntl
import hashlib
import http.client
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from db.engine import get_engine, session_factory
from monitor.browse.metadata import DATABASE
from monitor.browse.server import build, sqlite_path
from tests.conftest import IN_CI
from tests.helpers import monitor_env, run_monitor
from tests.test_search import Seeded, seed

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = (
    Path(os.environ.get("MONITOR_TEST_SHOTS", "")) if os.environ.get("MONITOR_TEST_SHOTS") else None
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Browse:
    """A running `monitor browse` child process."""

    def __init__(self, db_url: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "browse", "--port", str(self.port)],
            env=monitor_env(db_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"monitor browse exited: {self.process.stdout.read()}")  # type: ignore[union-attr]
            try:
                self.get("/-/versions.json")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        raise AssertionError("monitor browse did not start")

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=30) as response:
            return bytes(response.read())

    def json(self, path: str, **params: str) -> Any:
        return json.loads(self.get(path + "?" + urllib.parse.urlencode(params)))

    def stop(self) -> str:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=20)
        return out


@pytest.fixture
def seeded_sqlite(sqlite_url: str) -> tuple[str, Seeded]:
    with session_factory(get_engine(sqlite_url))() as session:
        return sqlite_url, seed(session)


@pytest.fixture
def browse(seeded_sqlite: tuple[str, Seeded]) -> Iterator[tuple[Browse, Seeded]]:
    server = Browse(seeded_sqlite[0])
    yield server, seeded_sqlite[1]
    server.stop()


# ---------------------------------------------------------------- HTTP level


def test_search_box_speaks_our_query_language(browse: tuple[Browse, Seeded]) -> None:
    server, seeded = browse
    rows = server.json("/monitor/v_articles.json", _search="كوخافى OR כּוֹכָבִי", _shape="array")
    assert {r["article_id"] for r in rows} == {seeded.ids["ar3"], seeded.ids["he2"]}
    rows = server.json("/monitor/v_articles.json", _search='צה"ל', _shape="array")
    assert [r["article_id"] for r in rows] == [seeded.ids["he1"]]


def test_facets_on_search_results(browse: tuple[Browse, Seeded]) -> None:
    server, _ = browse
    data = server.json("/monitor/v_articles.json", _search="اسرائيل OR Gantz")
    facets = data["facet_results"]
    assert {"outlet", "country", "language", "tags", "published_at"} <= set(facets)
    countries = {f["value"]: f["count"] for f in facets["country"]["results"]}
    assert countries == {"MA": 4, "IL": 1}  # ar1 ar2 ar4 fr1 · en1
    tags = {f["value"]: f["count"] for f in facets["tags"]["results"]}
    assert tags["defense-cooperation"] == 4


def test_ranked_search_with_snippets(browse: tuple[Browse, Seeded]) -> None:
    server, seeded = browse
    params = {
        "q": "اسرائيل",
        "outlet": "",
        "country": "",
        "language": "",
        "tag": "",
        "since": "",
        "_shape": "array",
    }
    rows = server.json("/monitor/search.json", **params)
    assert {r["article_id"] for r in rows} == {seeded.ids[k] for k in ("ar1", "ar2", "ar4")}
    assert all("[" in r["snippet"] for r in rows)
    assert rows[0]["rank"] >= rows[-1]["rank"]
    bad = server.json("/monitor/search.json", **{**params, "q": '"وزير'})
    assert len(bad) == 1 and "unclosed quote" in bad[0]["title"]


def test_story_page_lists_members(browse: tuple[Browse, Seeded]) -> None:
    server, seeded = browse
    rows = server.json("/monitor/story.json", story_id=str(seeded.stories[1]), _shape="array")
    assert [r["outlet"] for r in rows] == ["hespress", "barlamane"]
    assert [bool(r["is_original"]) for r in rows] == [True, False]
    assert rows[1]["minutes_after_original"] == 120


def test_csv_download(browse: tuple[Browse, Seeded]) -> None:
    server, seeded = browse
    body = server.get(
        "/monitor/v_articles.csv?"
        + urllib.parse.urlencode({"_search": "ישראל OR מרוקו", "_size": "max"})
    )
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert {int(r["article_id"]) for r in rows} == {seeded.ids[k] for k in ("he1", "he2", "he3")}
    assert "שר הביטחון גנץ נחת במרוקו" in {r["title"] for r in rows}


def _file_state(path: Path) -> tuple[int, int, str]:
    data = path.read_bytes()
    return path.stat().st_mtime_ns, len(data), hashlib.sha256(data).hexdigest()


def test_read_only(seeded_sqlite: tuple[str, Seeded]) -> None:
    url, _ = seeded_sqlite
    path = sqlite_path(url)
    assert path is not None
    get_engine(url).dispose()  # our own connections closed: the file is all there is
    before = _file_state(path)
    server = Browse(url)
    try:
        with pytest.raises(urllib.error.HTTPError):
            server.get("/monitor.json?" + urllib.parse.urlencode({"sql": "DELETE FROM articles"}))
        rows = server.json(
            "/monitor.json", sql="SELECT count(*) AS n FROM articles", _shape="array"
        )
        assert rows == [{"n": 12}]
        server.json("/monitor/v_articles.json", _search="Gantz")
    finally:
        server.stop()
    assert _file_state(path) == before


@pytest.mark.parametrize("immutable", [False, True], ids=["live-file", "snapshot"])
def test_database_has_no_write_connection(
    seeded_sqlite: tuple[str, Seeded], immutable: bool
) -> None:
    """Datasette keeps a write connection for plugins; ours has none, and its read
    connections refuse writes themselves."""
    url, _ = seeded_sqlite
    path = sqlite_path(url)
    assert path is not None
    get_engine(url).dispose()
    before = _file_state(path)

    async def attempt() -> int:
        datasette = build(path, immutable=immutable)
        await datasette.invoke_startup()
        database = datasette.get_database(DATABASE)
        try:
            with pytest.raises(PermissionError, match="read-only"):
                await database.execute_write("DELETE FROM article_tags")
            conn = database.connect()
            assert conn.execute("PRAGMA query_only").fetchone() == (1,)
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                conn.execute("DELETE FROM article_tags")
            result = await database.execute("SELECT count(*) FROM articles")
            return int(result.first()[0])
        finally:
            database.close()

    assert asyncio.run(attempt()) == 12
    assert _file_state(path) == before


def _status(port: int, path: str, host: str) -> tuple[int, bytes]:
    """One GET to the server on 127.0.0.1:port, with the Host header a browser would send
    for `host` (a rebinding page's name, or a loopback name)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_answers_only_to_loopback_host_names(browse: tuple[Browse, Seeded]) -> None:
    """DNS rebinding: a page on evil.example re-points its name at 127.0.0.1; the browser
    then sends `Host: evil.example[:port]`, which must get nothing from the database."""
    server, _ = browse
    port = server.port
    query = "/monitor.json?" + urllib.parse.urlencode(
        {"sql": "SELECT title FROM articles", "_shape": "array"}
    )
    for host in (
        f"evil.example:{port}",
        "evil.example",
        f"127.0.0.1.evil.example:{port}",
        f"localhost:{port + 1}",
        "127.0.0.1",
    ):
        status, body = _status(port, query, host)
        assert status == 421, host
        assert b"Gantz" not in body and b"Misdirected" in body
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        status, body = _status(port, query, host)
        assert status == 200, host
        assert "Gantz lands in Morocco" in {row["title"] for row in json.loads(body)}


def test_refuses_non_loopback(sqlite_url: str) -> None:
    done = run_monitor(["browse", "--host", "0.0.0.0"], monitor_env(sqlite_url), timeout=60)
    assert done.returncode == 1
    assert "loopback only" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.postgres
def test_postgres_is_browsed_through_a_snapshot(pg_database: str) -> None:
    from tests.conftest import _empty_pg

    _empty_pg(pg_database)
    with session_factory(get_engine(pg_database))() as session:
        seeded = seed(session)
    server = Browse(pg_database)
    try:
        rows = server.json("/monitor/v_articles.json", _search="défense", _shape="array")
        assert {r["article_id"] for r in rows} == {seeded.ids["fr1"], seeded.ids["en1"]}
        stories = server.json("/monitor/v_stories.json", _shape="array")
        assert len(stories) == 2
    finally:
        output = server.stop()
    assert "snapshot taken: 12 articles, 2 stories" in output


# ---------------------------------------------------------------- real browser


class Chromium:
    """Headless Chromium driven over --remote-debugging-pipe (fd 3 in, fd 4 out)."""

    def __init__(self, profile: Path) -> None:
        to_chrome, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome = os.pipe()
        # Above 10, so moving them onto 3 and 4 cannot overwrite one with the other.
        to_chrome_r = fcntl.fcntl(to_chrome, fcntl.F_DUPFD, 10)
        from_chrome_w = fcntl.fcntl(from_chrome, fcntl.F_DUPFD, 10)
        os.close(to_chrome)
        os.close(from_chrome)

        args = [
            CHROMIUM or "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "about:blank",
        ]
        # Chromium reads commands on fd 3 and answers on fd 4: bash puts the pipe ends
        # there (no preexec_fn, which is unsafe with threads).
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', "bash", *args],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._id = 0
        try:
            self._open_page()
        except BaseException:
            self.close()
            raise

    def _open_page(self) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=1400,
            height=1100,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise AssertionError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))

    def open(self, url: str) -> None:
        self.call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (
                self.evaluate("document.readyState") == "complete"
                and self.evaluate("document.fonts.status") == "loaded"
            ):
                return
            time.sleep(0.2)
        raise AssertionError(f"{url} did not load")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        return result["result"].get("value")

    def screenshot(self) -> Image.Image:
        """The whole page (the viewport is grown to it first, so DOM boxes match pixels)."""
        width, height = self.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=max(width, 1400),
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        return Image.open(io.BytesIO(base64.b64decode(data))).convert("L")

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError):  # it may be gone already
            self.call("Browser.close")
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("chromium is required in CI (apt-get install -y chromium)")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    browser = Chromium(tmp_path / "profile")
    yield browser
    browser.close()


# Title cells of the search results: their boxes, and where the first and last letter are.
_CELLS = """
Array.from(document.querySelectorAll('td.col-title')).map(td => {
  const text = td.firstChild && td.firstChild.nodeType === 3 ? td.firstChild : null;
  const box = td.getBoundingClientRect();
  const out = {text: td.textContent.trim(), left: box.left, right: box.right,
               top: box.top, bottom: box.bottom};
  if (text) {
    const trimmed = text.data.trim(); const start = text.data.indexOf(trimmed);
    const r = document.createRange();
    r.setStart(text, start); r.setEnd(text, start + 1);
    out.first = r.getBoundingClientRect().left;
    r.setStart(text, start + trimmed.length - 1); r.setEnd(text, start + trimmed.length);
    out.last = r.getBoundingClientRect().left;
  }
  return out;
})
"""


def _ink_margins(shot: Image.Image, cell: dict[str, float]) -> tuple[int, int]:
    """Blank pixels left and right of the text on the shortest line drawn inside one cell.

    The shortest line (a wrapped title's last) shows the alignment; a full line does not.
    """
    box = (
        int(cell["left"]) + 3,
        int(cell["top"]) + 3,
        int(cell["right"]) - 3,
        int(cell["bottom"]) - 3,
    )
    crop = shot.crop(box).point(lambda v: 255 if v < 110 else 0)
    rows = [crop.crop((0, y, crop.width, y + 1)).getbbox() is not None for y in range(crop.height)]
    lines: list[tuple[int, int, int, int]] = []
    y = 0
    while y < crop.height:
        if rows[y]:
            end = y
            while end < crop.height and rows[end]:
                end += 1
            ink = crop.crop((0, y, crop.width, end)).getbbox()
            if ink is not None and end - y > 4:  # a text line, not a stray dot
                lines.append(ink)
            y = end
        else:
            y += 1
    assert lines, f"no text drawn in the cell of {cell['text']!r}"
    shortest = min(lines, key=lambda ink: ink[2] - ink[0])
    return shortest[0], crop.width - shortest[2]


def test_rtl_text_renders_right_to_left(
    browse: tuple[Browse, Seeded], chromium: Chromium, tmp_path: Path
) -> None:
    server, _ = browse
    query = urllib.parse.urlencode(
        {
            "q": "כוכבי OR كوخافي OR Gantz",
            "outlet": "",
            "country": "",
            "language": "",
            "tag": "",
            "since": "",
        }
    )
    chromium.open(f"{server.base}/monitor/search?{query}")
    assert "returning 4 rows" in chromium.evaluate("document.body.innerText")
    shot = chromium.screenshot()
    (SHOTS or tmp_path).mkdir(parents=True, exist_ok=True)
    shot.save((SHOTS or tmp_path) / "browse-search.png")
    cells = {c["text"]: c for c in chromium.evaluate(_CELLS)}
    arabic = cells["رئيس الأركان كوخافى يستقبل وفدا مغربيا"]
    hebrew = cells["כּוֹכָבִי בְּמָרוֹקוֹ"]
    latin = cells["Gantz lands in Morocco"]
    for cell in (arabic, hebrew):
        assert cell["first"] > cell["last"], cell  # drawn from right to left
        left, right = _ink_margins(shot, cell)
        assert right < 20 < left, (cell["text"], left, right)  # hugs the right edge
    assert latin["first"] < latin["last"]
    left, right = _ink_margins(shot, latin)
    assert left < 20 < right


def test_home_and_story_pages_in_browser(
    browse: tuple[Browse, Seeded], chromium: Chromium, tmp_path: Path
) -> None:
    server, _ = browse
    chromium.open(f"{server.base}/monitor")
    assert chromium.evaluate("!!document.querySelector('input[name=_search]')")
    chromium.open(f"{server.base}/monitor/v_stories")
    link = chromium.evaluate("document.querySelector('td.col-story_id a').getAttribute('href')")
    assert link.startswith("/monitor/story?story_id=")
    chromium.open(f"{server.base}{link}")
    text = chromium.evaluate("document.body.innerText")
    assert "hespress" in text or "ynet" in text
    assert chromium.evaluate("!!document.querySelector('a[href*=\".csv\"]')")
    shot = chromium.screenshot()
    shot.save((SHOTS or tmp_path) / "browse-story.png")
