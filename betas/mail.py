"""Sending plain-text mail over SMTP: the only module that talks to a mail server.

The server comes from SHIPCALL_SMTP_URL (`config.SmtpServer`): `smtps://` speaks TLS from the
first byte; `smtp://` upgrades with STARTTLS whenever the server offers it, and never sends a
password over a connection that stayed in the clear. Nothing here logs or repeats the password:
every error names the server and the user only.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from betas.config import SmtpServer

# Seconds to wait for the server on each step; a reminder run must not hang on a dead server.
TIMEOUT = 10


class MailError(Exception):
    """The mail server could not be reached, or refused the sender or the login."""


@dataclass(frozen=True)
class Mail:
    """One plain-text message to one person."""

    to: str
    subject: str
    body: str


def compose(sender: str, mail: Mail) -> EmailMessage:
    """Build the message: text/plain in UTF-8, the subject on one line, nothing escaped."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    # A header is one line: a name typed with a line break would otherwise refuse to send.
    message["Subject"] = " ".join(mail.subject.split())
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(mail.body)
    return message


def _where(server: SmtpServer) -> str:
    user = f" as {server.username}" if server.username else ""
    return f"{server.host}:{server.port}{user}"


def _open(server: SmtpServer, timeout: float, context: ssl.SSLContext) -> smtplib.SMTP:
    if server.tls:
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
    encrypted = server.tls
    try:
        smtp.ehlo()
        if not encrypted and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
            encrypted = True
        if server.username:
            if not encrypted:
                raise MailError(
                    f"The mail server {_where(server)} offers no STARTTLS, and Shipcall does not "
                    "send a password in the clear: use smtps:// or a server that offers STARTTLS."
                )
            smtp.login(server.username, server.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def send(
    server: SmtpServer,
    sender: str,
    mails: Sequence[Mail],
    *,
    timeout: float = TIMEOUT,
    context: ssl.SSLContext | None = None,
) -> list[str | None]:
    """Send each mail over one connection; return, for each, None when sent or why it was not.

    A server that cannot be reached, or refuses the login, fails every mail (MailError is not
    raised: the caller reports each one). A recipient the server refuses fails that mail alone.
    """
    if not mails:
        return []
    context = context or ssl.create_default_context()
    try:
        smtp = _open(server, timeout, context)
    except smtplib.SMTPAuthenticationError:
        return _all(mails, f"The mail server {_where(server)} refused the user name or password.")
    except MailError as exc:
        return _all(mails, str(exc))
    except (OSError, smtplib.SMTPException) as exc:
        return _all(mails, f"Could not reach the mail server {_where(server)}: {_said(exc)}")
    outcomes: list[str | None] = []
    with smtp:
        for mail in mails:
            try:
                smtp.send_message(compose(sender, mail))
            except smtplib.SMTPServerDisconnected as exc:
                left = len(mails) - len(outcomes)
                outcomes += [f"The mail server {_where(server)} hung up: {_said(exc)}"] * left
                break
            except (OSError, smtplib.SMTPException) as exc:
                outcomes.append(f"The mail server {_where(server)} refused it: {_said(exc)}")
            else:
                outcomes.append(None)
    return outcomes


def _all(mails: Sequence[Mail], reason: str) -> list[str | None]:
    return [reason] * len(mails)


def _said(exc: BaseException) -> str:
    """Say an error in a line: the server's words where it gave some (never our password)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{to}: {code} {text.decode(errors='replace')}"
            for to, (code, text) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
    return str(exc) or exc.__class__.__name__
