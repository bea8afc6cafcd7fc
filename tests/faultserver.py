"""A loopback HTTP server that misbehaves on purpose, one behaviour per path (issue 8).

`FaultServer` listens on 127.0.0.1 only, on real sockets, and answers each path with a
`Behaviour`: a status, a body, a redirect, a connection reset, silence, a trickle, a gzip
bomb, a body streamed past any size limit. It records every request (path, headers) so tests
can count redirect hops and prove what was never asked for. `Canary` is a bare listener that
only counts connections: a redirect pointed at it proves the crawler refused a target before
connecting.

Builders for hostile and broken feed bodies (`rss_items`, `billion_laughs`, `xxe`, ...) live
here too, so the fault suite and anyone reproducing a case use the same bytes.
"""

from __future__ import annotations

import socket
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self
from xml.sax.saxutils import escape

RSS_TYPE = "application/rss+xml; charset=utf-8"


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    at: float


class Handler(BaseHTTPRequestHandler):
    """Dispatches each request to the behaviour of its path; quiet, HTTP/1.1."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(Seen(self.path, dict(self.headers.items()), time.time()))
            behaviour = owner.routes.get(self.path.split("?", 1)[0])
        if behaviour is None:
            Body(b"not found", status=404, content_type="text/plain").serve(self)
        else:
            behaviour.serve(self)

    def send_head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def stopping(self) -> threading.Event:
        return self.server.owner.stopping

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), as a crashing proxy does."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


class Behaviour:
    """What one path does with a request."""

    def serve(self, handler: Handler) -> None:
        raise NotImplementedError


@dataclass
class Body(Behaviour):
    """A complete answer: status, headers, body (Content-Length set)."""

    body: bytes = b""
    status: int = 200
    content_type: str = RSS_TYPE
    headers: dict[str, str] = field(default_factory=dict)

    def serve(self, handler: Handler) -> None:
        head = {"Content-Type": self.content_type, **self.headers}
        head["Content-Length"] = str(len(self.body))
        handler.send_head(self.status, head)
        handler.wfile.write(self.body)


@dataclass
class Redirect(Behaviour):
    location: str
    status: int = 302

    def serve(self, handler: Handler) -> None:
        handler.send_head(self.status, {"Location": self.location, "Content-Length": "0"})


@dataclass
class Reset(Behaviour):
    """Reset the connection; with `after_bytes`, first send headers and that much body."""

    after_bytes: int | None = None

    def serve(self, handler: Handler) -> None:
        if self.after_bytes is not None:
            total = self.after_bytes * 10
            handler.send_head(200, {"Content-Type": RSS_TYPE, "Content-Length": str(total)})
            handler.wfile.write(b"<" * self.after_bytes)
        handler.reset()


class Hang(Behaviour):
    """Read the request, then never answer (until the server stops)."""

    def serve(self, handler: Handler) -> None:
        handler.stopping().wait(600)
        handler.close_connection = True


@dataclass
class Trickle(Behaviour):
    """Headers at once, then the body one byte per `interval` seconds."""

    body: bytes
    interval: float = 1.0

    def serve(self, handler: Handler) -> None:
        handler.send_head(200, {"Content-Type": RSS_TYPE, "Content-Length": str(len(self.body))})
        for i in range(len(self.body)):
            try:
                handler.wfile.write(self.body[i : i + 1])
                handler.wfile.flush()
            except OSError:  # the client gave up: that is the point
                break
            if handler.stopping().wait(self.interval):
                break
        handler.close_connection = True


@dataclass
class Stream(Behaviour):
    """`size` bytes of `fill` after `prefix`, chunked (no length known) or with a length."""

    size: int
    prefix: bytes = b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
    fill: bytes = b"x"
    chunked: bool = True

    def serve(self, handler: Handler) -> None:
        head = {"Content-Type": RSS_TYPE}
        if self.chunked:
            head["Transfer-Encoding"] = "chunked"
        else:
            head["Content-Length"] = str(len(self.prefix) + self.size)
        handler.send_head(200, head)
        block = self.fill * (65536 // len(self.fill))
        sent = 0
        try:
            self._write(handler, self.prefix)
            while sent < self.size and not handler.stopping().is_set():
                piece = block[: self.size - sent]
                self._write(handler, piece)
                sent += len(piece)
            if self.chunked:
                handler.wfile.write(b"0\r\n\r\n")
        except OSError:  # refused mid-stream: expected
            pass
        handler.close_connection = True

    def _write(self, handler: Handler, data: bytes) -> None:
        if self.chunked:
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        else:
            handler.wfile.write(data)


@dataclass
class FileBody(Behaviour):
    """A file sent as it is, e.g. a gzip bomb with `Content-Encoding: gzip`."""

    path: Path
    headers: dict[str, str] = field(default_factory=dict)

    def serve(self, handler: Handler) -> None:
        size = self.path.stat().st_size
        head = {"Content-Type": RSS_TYPE, **self.headers, "Content-Length": str(size)}
        handler.send_head(200, head)
        try:
            with self.path.open("rb") as source:
                while chunk := source.read(65536):
                    handler.wfile.write(chunk)
        except OSError:  # the client stopped reading once it saw enough
            handler.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FaultServer

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hang up on purpose here (a refused bomb, a cancelled download): not news.
        return


class FaultServer:
    """Threaded server on 127.0.0.1: `server.route(path, behaviour)`, then `server.url(path)`."""

    def __init__(self) -> None:
        self.routes: dict[str, Behaviour] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, behaviour: Behaviour) -> None:
        with self.lock:
            self.routes[path] = behaviour

    def hits(self, path: str) -> list[Seen]:
        with self.lock:
            return [seen for seen in self.requests if seen.path.split("?", 1)[0] == path]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()


class Canary:
    """A listener on 127.0.0.1 that only counts connections (and closes them)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


# --------------------------------------------------------------------------- bodies

BOMB_SIZE = 2 * 1024**3
_MIB = bytes(1 << 20)


def gzip_bomb(size: int = BOMB_SIZE, cache: Path | None = None) -> Path:
    """A valid gzip file of `size` zero bytes (a multiple of 1 MiB), about 2 MB for 2 GiB.

    Built cheaply and cached: with a full flush after every MiB, deflate restarts from the
    same state, so every MiB after the first compresses to the same bytes; the file is the
    first block, that block repeated, the end of the stream and the gzip trailer (CRC-32 and
    length of the 2 GiB). Only the CRC pass touches all 2 GiB (about a second).
    """
    folder = cache or Path(tempfile.gettempdir()) / "monitor-faults"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"zeros-{size}.gz"
    if path.is_file():
        return path
    blocks = size // len(_MIB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(_MIB) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeat = deflate.compress(_MIB) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(_MIB, crc)
    partial = path.with_suffix(".part")
    with partial.open("wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")  # gzip header, deflate, no name
        out.write(first)
        for _ in range(blocks - 1):
            out.write(repeat)
        out.write(end)
        out.write(struct.pack("<II", crc, size & 0xFFFFFFFF))
    partial.replace(path)
    return path


def rss_items(
    items: Sequence[Mapping[str, object]],
    *,
    title: str = "Feed",
    lang: str = "en",
    encoding: str = "utf-8",
    doctype: str = "",
) -> str:
    """An RSS 2.0 document as text; each item may have guid, link, title, description,
    pubDate (a datetime) and `raw` (markup inserted as it is)."""
    parts = [
        f'<?xml version="1.0" encoding="{encoding}"?>\n{doctype}<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<language>{lang}</language>"
    ]
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "guid", "description"):
            if key in item:
                parts.append(f"<{key}>{escape(str(item[key]))}</{key}>")
        when = item.get("pubDate")
        if isinstance(when, datetime):
            parts.append(f"<pubDate>{format_datetime(when)}</pubDate>")
        if "raw" in item:
            parts.append(str(item["raw"]))
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts)


def billion_laughs(levels: int = 10) -> bytes:
    """Nested entities: `&lol9;` would expand to 10**9 "lol"s in a naive parser."""
    lines = ['<!ENTITY lol "lol">']
    for n in range(1, levels):
        previous = "lol" if n == 1 else f"lol{n - 1}"
        lines.append(f'<!ENTITY lol{n} "{f"&{previous};" * 10}">')
    doctype = "<!DOCTYPE rss [\n" + "\n".join(lines) + "\n]>\n"
    item = {
        "link": "http://127.0.0.1/laughs/1",
        "guid": "laughs-1",
        "raw": f"<title>laughs &lol{levels - 1};</title>",
    }
    return rss_items([item], doctype=doctype).encode()


def xxe(target: Path) -> bytes:
    """An external entity naming a local file, referenced from a title and a description."""
    doctype = f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "file://{target}">\n]>\n'
    item = {
        "link": "http://127.0.0.1/xxe/1",
        "guid": "xxe-1",
        "raw": "<title>secret: &xxe;</title><description>leak &xxe; here</description>",
    }
    return rss_items([item], doctype=doctype).encode()


def control_characters() -> bytes:
    """A UTF-8 Arabic feed with C0 controls and invalid UTF-8 sequences inside its titles: a
    stray continuation byte, a truncated sequence, an encoded surrogate, an overlong slash."""
    items = []
    for n in range(3):
        text = f"خبر {n} \x01\x02\x08 عن زيارة وفد عسكري إلى الرباط Titre \x0b\x0c\x1f fin"
        items.append(
            {
                "link": f"http://127.0.0.1/ctl/{n}",
                "guid": f"ctl-{n}",
                "raw": f"<title>{text}</title><description>نص الخبر \x07 كاملا</description>",
            }
        )
    body = rss_items(items, lang="ar").encode()
    return body.replace(b" fin</title>", b" \x80 \xe2\x82 \xed\xa0\x80 \xc0\xaf fin</title>")


@dataclass
class Slow(Behaviour):
    """A complete answer after `delay` seconds (a slow but healthy server)."""

    body: Body
    delay: float

    def serve(self, handler: Handler) -> None:
        handler.stopping().wait(self.delay)
        self.body.serve(handler)
