"""monitor.mail against a real aiosmtpd server on 127.0.0.1: plain, STARTTLS + AUTH, implicit TLS.

Certificates come from a throwaway CA made by trustme for each test session, so verification is
real: the client trusts that CA only when the test says so.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.mail import (
    DeliveryUnknown,
    MailError,
    Security,
    SmtpSettings,
    build_message,
    send_message,
)

USER = "digest-bot"
PASSWORD = "s3cret-never-logged"
SENDER = "Monitor <monitor@example.org>"
RECIPIENTS = ["analyst1@example.org", "analyst.ma@example.ma", "analyst2@example.co.il"]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: bytes | None


@dataclass
class Recorder:
    """aiosmtpd handler that keeps every message; `reply` can make DATA fail."""

    messages: list[Received] = field(default_factory=list)
    reply: str = "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply.startswith("250"):
            login = session.auth_data.login if session.authenticated else None
            self.messages.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    content=envelope.original_content,
                    tls=server.transport.get_extra_info("ssl_object") is not None,
                    login=login,
                )
            )
        return self.reply


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: let aiosmtpd send the 535 itself on failure.
    return AuthResult(success=ok, handled=False, auth_data=data)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(handler: Recorder, *, port: int | None = None, **params: Any) -> Iterator[int]:
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **params)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def digest_message() -> EmailMessage:
    return build_message(
        subject="Defence digest 2025-03-14: 2 stories, 3 articles (Morocco 2, Israel 1)",
        sender=SENDER,
        recipients=RECIPIENTS,
        text="1. \u2068وفد عسكري إسرائيلي يزور الرباط\u2069\n"
        "2. \u2068ישראל ומרוקו חתמו על עסקה\u2069\n",
        html='<p dir="rtl" lang="ar">وفد عسكري إسرائيلي يزور الرباط</p>'
        '<p dir="rtl" lang="he">ישראל ומרוקו חתמו על עסקה</p>',
    )


def parts_of(raw: bytes) -> dict[str, str]:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    return {part.get_content_type(): part.get_content() for part in parsed.iter_parts()}


def test_build_message_has_both_parts_and_headers() -> None:
    message = digest_message()
    assert message.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in message.iter_parts()]
    assert types == ["text/plain", "text/html"]  # RFC 2046: the preferred part comes last
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Date"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert [a.addr_spec for a in message["To"].addresses] == RECIPIENTS


def test_build_message_needs_recipients() -> None:
    with pytest.raises(MailError) as error:
        build_message(subject="s", sender=SENDER, recipients=[], text="t", html="<p>t</p>")
    assert not error.value.temporary


def test_plain_smtp_delivers_one_message_with_both_parts() -> None:
    handler = Recorder()
    with smtp_server(handler) as port:
        message = digest_message()
        result = send_message(message, SmtpSettings("127.0.0.1", port, Security.NONE))
    assert len(handler.messages) == 1
    received = handler.messages[0]
    assert received.rcpt_tos == RECIPIENTS
    assert received.mail_from == "monitor@example.org"
    assert result.message_id == message["Message-ID"]
    assert result.refused == {}
    parts = parts_of(received.content)
    assert "ישראל ומרוקו חתמו על עסקה" in parts["text/plain"]
    assert "وفد عسكري إسرائيلي يزور الرباط" in parts["text/html"]
    parsed = message_from_bytes(received.content, policy=policy.default)
    # A folded Subject unfolds to "Subject: <value>"; CPython's parser keeps that space.
    assert parsed["Subject"].strip() == message["Subject"]


def test_starttls_with_auth(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    handler = Recorder()
    params: dict[str, Any] = {
        "tls_context": server_tls,
        "require_starttls": True,
        "auth_required": True,
        "authenticator": _authenticator,
    }
    with smtp_server(handler, **params) as port:
        settings = SmtpSettings("127.0.0.1", port, Security.STARTTLS, USER, PASSWORD)
        send_message(digest_message(), settings, ssl_context=client_tls)
    assert len(handler.messages) == 1
    assert handler.messages[0].tls
    assert handler.messages[0].login == USER.encode()
    assert set(parts_of(handler.messages[0].content)) == {"text/plain", "text/html"}
    assert PASSWORD not in repr(settings)
    ours = [r.getMessage() for r in caplog.records if r.name != "mail.log"]  # not aiosmtpd's
    assert not any(PASSWORD in line for line in ours)


def test_wrong_password_is_a_permanent_error_without_the_password(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    handler = Recorder()
    params: dict[str, Any] = {
        "tls_context": server_tls,
        "require_starttls": True,
        "authenticator": _authenticator,
    }
    with smtp_server(handler, auth_required=True, **params) as port:
        wrong = "wrong-" + PASSWORD
        settings = SmtpSettings("127.0.0.1", port, Security.STARTTLS, USER, wrong)
        with pytest.raises(MailError) as error:
            send_message(digest_message(), settings, ssl_context=client_tls)
    assert not error.value.temporary
    assert "authentication failed" in str(error.value)
    assert wrong not in str(error.value)
    assert handler.messages == []


def test_starttls_missing_on_server_is_not_a_silent_downgrade() -> None:
    handler = Recorder()
    with smtp_server(handler) as port, pytest.raises(MailError) as error:
        send_message(digest_message(), SmtpSettings("127.0.0.1", port, Security.STARTTLS))
    assert "STARTTLS" in str(error.value)
    assert not error.value.temporary
    assert handler.messages == []


def test_implicit_tls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    handler = Recorder()
    with smtp_server(handler, ssl_context=server_tls) as port:
        settings = SmtpSettings("127.0.0.1", port, Security.SSL)
        send_message(digest_message(), settings, ssl_context=client_tls)
    assert len(handler.messages) == 1
    assert handler.messages[0].tls


@pytest.mark.parametrize("security", [Security.STARTTLS, Security.SSL])
def test_untrusted_certificate_is_a_permanent_error(
    server_tls: ssl.SSLContext, security: Security
) -> None:
    # No context given: the default one trusts the system CAs only, not our test CA.
    handler = Recorder()
    key = "tls_context" if security is Security.STARTTLS else "ssl_context"
    params: dict[str, Any] = {key: server_tls}
    with smtp_server(handler, **params) as port, pytest.raises(MailError) as error:
        send_message(digest_message(), SmtpSettings("127.0.0.1", port, security))
    assert "certificate" in str(error.value)
    assert not error.value.temporary
    assert handler.messages == []


def test_certificate_for_another_host_is_refused(
    ca: trustme.CA, client_tls: ssl.SSLContext
) -> None:
    other = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("mail.example.org").configure_cert(other)
    handler = Recorder()
    with smtp_server(handler, ssl_context=other) as port, pytest.raises(MailError) as error:
        settings = SmtpSettings("127.0.0.1", port, Security.SSL)
        send_message(digest_message(), settings, ssl_context=client_tls)
    assert "certificate" in str(error.value)
    assert handler.messages == []


def test_server_down_is_temporary() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(MailError) as error:
        send_message(digest_message(), SmtpSettings("127.0.0.1", port, Security.NONE))
    assert error.value.temporary
    assert f"127.0.0.1:{port}" in str(error.value)


@pytest.mark.parametrize(
    ("reply", "temporary"),
    [("451 4.3.0 try again later", True), ("554 5.7.1 rejected as spam", False)],
)
def test_server_reply_classifies_the_error(reply: str, temporary: bool) -> None:
    handler = Recorder(reply=reply)
    with smtp_server(handler) as port, pytest.raises(MailError) as error:
        send_message(digest_message(), SmtpSettings("127.0.0.1", port, Security.NONE))
    assert error.value.temporary is temporary
    assert reply.split(maxsplit=1)[0] in str(error.value)


def test_credentials_need_tls() -> None:
    settings = SmtpSettings("127.0.0.1", free_port(), Security.NONE, USER, PASSWORD)
    with pytest.raises(MailError) as error:
        send_message(digest_message(), settings)
    assert not error.value.temporary
    assert PASSWORD not in str(error.value)


def test_non_ascii_password_is_a_clear_error(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    # smtplib encodes AUTH credentials as ASCII; say so instead of a UnicodeEncodeError.
    handler = Recorder()
    params: dict[str, Any] = {"tls_context": server_tls, "authenticator": _authenticator}
    with smtp_server(handler, **params) as port:
        settings = SmtpSettings("127.0.0.1", port, Security.STARTTLS, USER, "пароль-סיסמה")
        with pytest.raises(MailError) as error:
            send_message(digest_message(), settings, ssl_context=client_tls)
    assert "ASCII" in str(error.value)
    assert "пароль" not in str(error.value)
    assert not error.value.temporary


# --- after the data: accepted means sent; lost before the verdict means unknown -------------


@dataclass
class QuitRefused(Recorder):
    """Accepts the message (250 to the data), then answers QUIT with a 421."""

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        return "421 4.3.2 shutting down"


@dataclass
class QuitDropped(Recorder):
    """Accepts the message, then resets the connection instead of answering QUIT."""

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        # Linger 0: closing sends a TCP reset, so the client's read fails with ECONNRESET,
        # the harshest way to lose the connection at this point.
        sock = server.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        server.transport.abort()
        return "221 Bye"  # written to a closed transport: the client never reads it


@dataclass
class DropsBeforeReply(Recorder):
    """Receives the whole message, then drops the connection before answering the data."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await super().handle_DATA(server, session, envelope)
        server.transport.abort()
        return "250 OK"  # never reaches the client


@pytest.mark.parametrize("handler_type", [QuitRefused, QuitDropped])
def test_a_failing_quit_after_the_data_was_accepted_is_a_success(
    handler_type: type[Recorder],
) -> None:
    handler = handler_type()
    with smtp_server(handler) as port:
        message = digest_message()
        result = send_message(message, SmtpSettings("127.0.0.1", port, Security.NONE))
    assert result.message_id == message["Message-ID"]
    assert len(handler.messages) == 1


def test_a_connection_lost_before_the_reply_to_the_data_is_delivery_unknown() -> None:
    handler = DropsBeforeReply()
    with smtp_server(handler) as port, pytest.raises(DeliveryUnknown) as error:
        send_message(digest_message(), SmtpSettings("127.0.0.1", port, Security.NONE))
    assert len(handler.messages) == 1  # the server has it: resending would duplicate it
    assert "may have accepted" in str(error.value)
    assert not error.value.temporary


def test_a_connection_lost_before_the_data_is_an_ordinary_temporary_error() -> None:
    """Dropped at RCPT: the server cannot have the message, so retrying is safe."""

    @dataclass
    class DropsAtRcpt(Recorder):
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
        ) -> str:
            server.transport.abort()
            return "250 OK"

    handler = DropsAtRcpt()
    with smtp_server(handler) as port, pytest.raises(MailError) as error:
        send_message(digest_message(), SmtpSettings("127.0.0.1", port, Security.NONE))
    assert not isinstance(error.value, DeliveryUnknown)
    assert error.value.temporary
    assert handler.messages == []
