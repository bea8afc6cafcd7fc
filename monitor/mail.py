"""Building and sending the digest email: the project's only smtplib user.

`build_message(...)` makes a multipart/alternative `EmailMessage` (text first, HTML second, as
RFC 2046 orders alternatives) with Message-ID and Date. `send_message(message, settings)`
delivers it over STARTTLS, implicit TLS or plain SMTP, always verifying the server certificate
(`ssl.create_default_context()` unless the caller passes its own context), and authenticates
only when a user is configured. Failures raise `MailError` whose `temporary` flag tells the
caller whether retrying later can help; `DeliveryUnknown` (a `MailError`) when the connection
failed after the message data began but before the server's verdict, so the server may have
the message and only a person can tell. Once the server has accepted the message, nothing
that goes wrong afterwards (a `421` or a dropped connection at QUIT) is an error. The
password is never logged nor put in an error.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class Security(StrEnum):
    """How the connection to the SMTP server is protected."""

    STARTTLS = "starttls"  # plain connection upgraded with STARTTLS (port 587); required
    SSL = "ssl"  # TLS from the first byte (port 465)
    NONE = "none"  # no TLS at all: only for a relay on the same host


DEFAULT_PORTS = {Security.STARTTLS: 587, Security.SSL: 465, Security.NONE: 25}


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to send; `password` stays out of repr so it cannot reach a log line."""

    host: str
    port: int | None = None  # None: the usual port for `security`
    security: Security = Security.STARTTLS
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


class MailError(Exception):
    """Sending failed. `temporary` is True when the same message may go through later."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class DeliveryUnknown(MailError):
    """The connection failed between the start of DATA and the server's reply to it: the
    server may have accepted the message. Sending it again could deliver it twice."""

    def __init__(self, message: str) -> None:
        super().__init__(message, temporary=False)


class _Smtp(smtplib.SMTP):
    """smtplib.SMTP that notes when the DATA command began."""

    data_started = False

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self.data_started = True
        return super().data(msg)


class _SmtpSsl(smtplib.SMTP_SSL, _Smtp):
    """The same over implicit TLS (SMTP_SSL's socket, _Smtp's `data`)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the server accepted: the Message-ID and any recipients it refused."""

    message_id: str
    refused: dict[str, tuple[int, str]]


def build_message(
    *,
    subject: str,
    sender: str,
    recipients: Sequence[str],
    text: str,
    html: str,
    now: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative message with both parts in UTF-8, a Message-ID and a Date."""
    if not recipients:
        raise MailError("no recipients configured (MONITOR_DIGEST_TO)", temporary=False)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=_domain_of(sender))
    # RFC 3834: an automatic message; stops vacation responders answering it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def _domain_of(sender: str) -> str | None:
    """The sender's domain, for the Message-ID (saves a slow getfqdn() lookup)."""
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return domain or None


def send_message(
    message: EmailMessage,
    settings: SmtpSettings,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> SendResult:
    """Deliver `message` to its To/Cc recipients; raise `MailError` when nothing was sent,
    `DeliveryUnknown` when the connection broke while the server had the message data but
    had not answered it yet.

    A server that does not offer STARTTLS under `starttls` is an error, never a silent
    downgrade; credentials are refused over a connection without TLS. The server's `250`
    to the data is delivery: a failing QUIT after it is ignored.
    """
    if settings.user and settings.security is Security.NONE:
        raise MailError(
            "refusing to send SMTP credentials without TLS; set MONITOR_SMTP_SECURITY "
            "to starttls or ssl",
            temporary=False,
        )
    context = ssl_context or ssl.create_default_context()
    where = f"{settings.host}:{settings.effective_port}"
    smtp: _Smtp | None = None
    try:
        smtp = _connect(settings, context)
        if settings.security is Security.STARTTLS:
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.user:
            _login(smtp, settings.user, settings.password or "")
        refused = smtp.send_message(message)
    except (MailError, OSError) as exc:  # smtplib's and ssl's errors are OSErrors too
        if smtp is not None:
            _close(smtp, polite=not _connection_lost(exc))
        if isinstance(exc, MailError):
            raise
        raise _mail_error(exc, where, settings, smtp) from exc
    except BaseException:
        if smtp is not None:
            smtp.close()
        raise
    _close(smtp, polite=True)  # accepted: nothing from here on can undo that
    return SendResult(message_id=str(message["Message-ID"]), refused=_as_refusals(refused))


def _connection_lost(exc: BaseException) -> bool:
    """A broken connection, as opposed to a server reply or a refusal of ours."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def _close(smtp: smtplib.SMTP, *, polite: bool) -> None:
    """Say QUIT while the conversation is sane, then close. Never raises: the outcome is
    already known (the message accepted, or the error being reported), and a `421` or a
    reset at QUIT does not change it."""
    try:
        if polite:
            smtp.quit()
    except OSError:
        pass
    finally:
        smtp.close()


def _mail_error(exc: OSError, where: str, settings: SmtpSettings, smtp: _Smtp | None) -> MailError:
    """The `MailError` for what smtplib, ssl or the socket raised while sending."""
    if smtp is not None and smtp.data_started and _connection_lost(exc):
        return DeliveryUnknown(
            f"{where}: connection lost after the message data began, before the server "
            f"answered ({exc or type(exc).__name__}); the server may have accepted it"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailError(f"{where}: {exc}", temporary=False)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailError(
            f"{where}: authentication failed for user {settings.user!r}: {_reply(exc)}",
            temporary=exc.smtp_code < 500,
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return MailError(
            f"{where}: every recipient refused: {_refused(exc.recipients)}",
            temporary=all(400 <= code < 500 for code in codes),
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return MailError(f"{where}: {_reply(exc)}", temporary=exc.smtp_code < 500)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailError(
            f"{where}: TLS certificate not trusted: {exc.verify_message}", temporary=False
        )
    if isinstance(exc, ssl.SSLError):
        return MailError(f"{where}: TLS failed: {exc.reason or exc}", temporary=True)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailError(f"{where}: server disconnected: {exc}", temporary=True)
    if isinstance(exc, smtplib.SMTPException):
        return MailError(f"{where}: {exc}", temporary=False)
    if isinstance(exc, socket.gaierror):
        return MailError(f"{where}: host name did not resolve: {exc}", temporary=True)
    # refused, reset, unreachable, timeout
    return MailError(f"{where}: cannot connect: {exc}", temporary=True)


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    try:
        smtp.login(user, password)
    except UnicodeEncodeError:
        # smtplib sends AUTH credentials as ASCII only.
        raise MailError(
            "MONITOR_SMTP_USER and MONITOR_SMTP_PASSWORD must be ASCII for SMTP AUTH",
            temporary=False,
        ) from None


def _connect(settings: SmtpSettings, context: ssl.SSLContext) -> _Smtp:
    port = settings.effective_port
    if settings.security is Security.SSL:
        return _SmtpSsl(settings.host, port, timeout=settings.timeout, context=context)
    return _Smtp(settings.host, port, timeout=settings.timeout)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return f"{exc.smtp_code} {text}"


def _refused(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(
        f"{address} ({code} {reply.decode('utf-8', 'replace')})"
        for address, (code, reply) in recipients.items()
    )


def _as_refusals(refused: dict[str, tuple[int, bytes]]) -> dict[str, tuple[int, str]]:
    return {a: (code, reply.decode("utf-8", "replace")) for a, (code, reply) in refused.items()}
