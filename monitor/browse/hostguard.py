"""An ASGI wrapper that answers only requests addressed to this loopback server by name.

The web view has no login and listens on loopback, which keeps other machines out but not
DNS rebinding: a page the analyst opens elsewhere can point its own name at 127.0.0.1 and
then read ``/monitor.json?sql=...`` as same-origin. Such a request still carries the
attacker's name in its ``Host`` header, so only the loopback names the analyst types are
served: ``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT`` and the address listened on.
Everything else gets 421 Misdirected Request (RFC 9110 §15.5.20) before the application
sees it. Non-HTTP scopes (lifespan) pass through.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
REFUSAL = b"421 Misdirected Request: this server answers only to its loopback address\n"


def _authority(host: str, port: int) -> list[str]:
    """The Host header values a browser sends for ``host`` on ``port`` (lower case)."""
    name = host.lower()
    try:
        if ipaddress.ip_address(name).version == 6:
            name = f"[{name}]"
    except ValueError:
        pass
    # Browsers leave the default port out of Host.
    return [f"{name}:{port}", name] if port == 80 else [f"{name}:{port}"]


def allowed_hosts(port: int, listen: Iterable[str] = ()) -> frozenset[str]:
    """Host header values served on ``port``: the loopback names and the listen addresses."""
    return frozenset(
        value for host in (*LOOPBACK_NAMES, *listen) for value in _authority(host, port)
    )


def host_guard(app: ASGIApp, allowed: frozenset[str]) -> ASGIApp:
    """``app``, answering 421 to HTTP and WebSocket requests whose Host is not ``allowed``.

    A request without a Host header is refused too (every browser sends one).
    """

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        hosts = [value for key, value in scope.get("headers", ()) if key.lower() == b"host"]
        if len(hosts) == 1 and hosts[0].decode("latin-1").strip().lower() in allowed:
            await app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 421,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(REFUSAL)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": REFUSAL})

    return guarded
