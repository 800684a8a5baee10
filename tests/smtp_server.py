"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the mail tests: what arrived, who logged in."""

from __future__ import annotations

import contextlib
import email
import email.policy
import ssl
import subprocess
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.helpers import free_port


@dataclass
class Inbox:
    """What an SMTP server received: each message parsed, the logins tried, whether over TLS."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str], bool]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        """Keep the message, parsed, with its envelope and whether it came over TLS."""
        self.messages.append(
            # SMTP carries lines ending in CRLF; the tests compare them as Python writes them.
            email.message_from_bytes(
                envelope.original_content.replace(b"\r\n", b"\n"), policy=email.policy.default
            )
        )
        self.envelopes.append((envelope.mail_from, envelope.rcpt_tos, session.ssl is not None))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        """Note the login tried; only shipcall / s3cret:pass gets in."""
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        # handled=False: aiosmtpd then answers a refusal with 535, as a real server does.
        return AuthResult(success=(login, password) == ("shipcall", "s3cret:pass"), handled=False)

    @property
    def url(self) -> str:
        """The SHIPCALL_SMTP_URL of this server, without credentials."""
        return f"smtp://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """Make a certificate for 127.0.0.1: the server's context, and a client's that trusts it."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


@pytest.fixture
def smtp_server():
    """Start SMTP servers on free ports of 127.0.0.1: `start(**aiosmtpd options) -> Inbox`."""
    with contextlib.ExitStack() as stack:

        def start(**options) -> Inbox:
            inbox = Inbox(port=free_port())
            if options.pop("auth", False):
                options["authenticator"] = inbox.authenticate
            controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **options)
            controller.start()
            stack.callback(controller.stop)
            return inbox

        yield start
