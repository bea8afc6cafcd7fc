"""Building and sending the digest email: the project's only smtplib user.

`build_message(...)` makes a multipart/alternative `EmailMessage` (text first, HTML second, as
RFC 2046 orders alternatives) with Message-ID and Date. `send_message(message, settings)`
delivers it over STARTTLS, implicit TLS or plain SMTP, always verifying the server certificate
(`ssl.create_default_context()` unless the caller passes its own context), and authenticates
only when a user is configured. Failures raise `MailError` whose `temporary` flag tells the
caller whether retrying later can help. The password is never logged nor put in an error.
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
    """Deliver `message` to its To/Cc recipients; raise `MailError` when nothing was sent.

    A server that does not offer STARTTLS under `starttls` is an error, never a silent
    downgrade; credentials are refused over a connection without TLS.
    """
    if settings.user and settings.security is Security.NONE:
        raise MailError(
            "refusing to send SMTP credentials without TLS; set MONITOR_SMTP_SECURITY "
            "to starttls or ssl",
            temporary=False,
        )
    context = ssl_context or ssl.create_default_context()
    where = f"{settings.host}:{settings.effective_port}"
    try:
        with _connect(settings, context) as smtp:
            if settings.security is Security.STARTTLS:
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.user:
                _login(smtp, settings.user, settings.password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(f"{where}: {exc}", temporary=False) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"{where}: authentication failed for user {settings.user!r}: {_reply(exc)}",
            temporary=exc.smtp_code < 500,
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise MailError(
            f"{where}: every recipient refused: {_refused(exc.recipients)}",
            temporary=all(400 <= code < 500 for code in codes),
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"{where}: {_reply(exc)}", temporary=exc.smtp_code < 500) from exc
    except ssl.SSLCertVerificationError as exc:
        raise MailError(
            f"{where}: TLS certificate not trusted: {exc.verify_message}", temporary=False
        ) from exc
    except ssl.SSLError as exc:
        raise MailError(f"{where}: TLS failed: {exc.reason or exc}", temporary=True) from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise MailError(f"{where}: server disconnected: {exc}", temporary=True) from exc
    except smtplib.SMTPException as exc:
        raise MailError(f"{where}: {exc}", temporary=False) from exc
    except socket.gaierror as exc:
        raise MailError(f"{where}: host name did not resolve: {exc}", temporary=True) from exc
    except OSError as exc:  # refused, reset, unreachable, timeout
        raise MailError(f"{where}: cannot connect: {exc}", temporary=True) from exc
    return SendResult(message_id=str(message["Message-ID"]), refused=_as_refusals(refused))


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    try:
        smtp.login(user, password)
    except UnicodeEncodeError:
        # smtplib sends AUTH credentials as ASCII only.
        raise MailError(
            "MONITOR_SMTP_USER and MONITOR_SMTP_PASSWORD must be ASCII for SMTP AUTH",
            temporary=False,
        ) from None


def _connect(settings: SmtpSettings, context: ssl.SSLContext) -> smtplib.SMTP:
    port = settings.effective_port
    if settings.security is Security.SSL:
        return smtplib.SMTP_SSL(settings.host, port, timeout=settings.timeout, context=context)
    return smtplib.SMTP(settings.host, port, timeout=settings.timeout)


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
