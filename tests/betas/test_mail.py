"""Mail over SMTP, against a real server on 127.0.0.1: STARTTLS, smtps, logins, plain text."""

from betas.config import SmtpServer
from betas.mail import Mail, send
from tests.helpers import free_port

HELLO = Mail(to="pat@example.com", subject="Hello", body="Line one.\n")


def test_a_plain_server_gets_the_message_as_plain_text(smtp_server):
    inbox = smtp_server()
    mail = Mail(to="pat@example.com", subject="<b>Inbox</b> & co", body="Hi <b>Pat</b> & co.\n")
    assert send(SmtpServer.from_url(inbox.url), "shipcall@example.com", [mail]) == [None]
    [message] = inbox.messages
    assert (message["From"], message["To"]) == ("shipcall@example.com", "pat@example.com")
    assert message["Subject"] == "<b>Inbox</b> & co"
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Hi <b>Pat</b> & co.\n"
    assert message["Message-ID"].endswith("@example.com>") and message["Date"]


def test_a_subject_typed_with_line_breaks_is_sent_on_one_line(smtp_server):
    inbox = smtp_server()
    mail = Mail(to="pat@example.com", subject="Inbox\r\nBcc: eve@example.com", body="x\n")
    assert send(SmtpServer.from_url(inbox.url), "shipcall@example.com", [mail]) == [None]
    [message] = inbox.messages
    assert message["Subject"] == "Inbox Bcc: eve@example.com" and message["Bcc"] is None
    assert inbox.envelopes[0][1] == ["pat@example.com"]


def test_starttls_is_used_when_offered_and_the_urls_user_logs_in(smtp_server, certificate):
    server_tls, client_tls = certificate
    inbox = smtp_server(tls_context=server_tls, auth=True, auth_require_tls=True)
    server = SmtpServer.from_url(f"smtp://shipcall:s3cret%3Apass@127.0.0.1:{inbox.port}")
    assert send(server, "shipcall@example.com", [HELLO, HELLO], context=client_tls) == [None, None]
    assert inbox.logins == [("shipcall", "s3cret:pass")]
    assert [over_tls for _from, _to, over_tls in inbox.envelopes] == [True, True]


def test_smtps_speaks_tls_from_the_first_byte(smtp_server, certificate):
    server_tls, client_tls = certificate
    # aiosmtpd offers AUTH over implicit TLS only when told the connection needs no STARTTLS.
    inbox = smtp_server(ssl_context=server_tls, auth=True, auth_require_tls=False)
    server = SmtpServer.from_url(f"smtps://shipcall:s3cret%3Apass@127.0.0.1:{inbox.port}")
    assert server.tls
    assert send(server, "shipcall@example.com", [HELLO], context=client_tls) == [None]
    assert inbox.logins == [("shipcall", "s3cret:pass")] and len(inbox.messages) == 1


def test_no_password_goes_over_a_connection_left_in_the_clear(smtp_server):
    inbox = smtp_server(auth=True, auth_require_tls=False)
    server = SmtpServer.from_url(f"smtp://shipcall:s3cret%3Apass@127.0.0.1:{inbox.port}")
    [failure] = send(server, "shipcall@example.com", [HELLO])
    assert "offers no STARTTLS" in failure and "smtps://" in failure
    assert "s3cret" not in failure
    assert inbox.logins == [] and inbox.messages == []


def test_a_refused_login_fails_every_mail_without_saying_the_password(smtp_server, certificate):
    server_tls, client_tls = certificate
    inbox = smtp_server(tls_context=server_tls, auth=True)
    server = SmtpServer.from_url(f"smtp://shipcall:wrong-pass@127.0.0.1:{inbox.port}")
    failures = send(server, "shipcall@example.com", [HELLO, HELLO], context=client_tls)
    assert (
        failures
        == [
            f"The mail server 127.0.0.1:{inbox.port} as shipcall refused the user name or password."
        ]
        * 2
    )
    assert inbox.messages == []


def test_an_untrusted_certificate_is_refused(smtp_server, certificate):
    server_tls, _client_tls = certificate
    inbox = smtp_server(tls_context=server_tls)
    [failure] = send(SmtpServer.from_url(inbox.url), "shipcall@example.com", [HELLO])
    assert failure.startswith(f"Could not reach the mail server 127.0.0.1:{inbox.port}")
    assert "CERTIFICATE_VERIFY_FAILED" in failure and inbox.messages == []


def test_a_server_that_is_down_fails_every_mail_with_where_it_was():
    port = free_port()
    failures = send(SmtpServer.from_url(f"smtp://127.0.0.1:{port}"), "s@example.com", [HELLO])
    assert failures[0].startswith(f"Could not reach the mail server 127.0.0.1:{port}: ")


def test_nothing_to_send_opens_no_connection():
    assert send(SmtpServer.from_url("smtp://127.0.0.1:1"), "s@example.com", []) == []
