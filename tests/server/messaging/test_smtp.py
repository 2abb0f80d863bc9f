"""E-mail over SMTP, against a real SMTP server (aiosmtpd) on a loopback port."""

from __future__ import annotations

import datetime as dt
import ipaddress
import smtplib
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.messaging.providers import failures
from server.messaging.providers.base import Attachment, PermanentFailure, TransientFailure
from server.messaging.providers.smtp import SmtpEmail
from tests.server.messaging.conftest import PATIENT_EMAIL
from tests.support.served import free_port

FROM = "no-reply@demo.clinic"
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it receives and refuses chosen recipients."""

    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def plain(port: int, **options: Any) -> SmtpEmail:
    return SmtpEmail("127.0.0.1", port, from_address=FROM, starttls=False, **options)


def test_the_text_html_sender_headers_and_calendar_attachment_arrive(mailbox, outgoing):
    box, port = mailbox
    message = outgoing(
        sender_name="Clinique Saint-Éloi",
        html="<p>Your appointment is on <b>Tuesday</b>.</p>",
        headers={"List-Unsubscribe": "<https://clinic.example/u/abc>"},
        attachments=(Attachment("appointment.ics", "text/calendar; method=REQUEST", ICS),),
    )

    accepted = plain(port).send(message)

    [(mail_from, rcpt_tos, email)] = box.received
    assert (mail_from, rcpt_tos) == (FROM, [PATIENT_EMAIL])
    [sender] = email["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Clinique Saint-Éloi", FROM)
    assert email["To"] == PATIENT_EMAIL
    assert email["Subject"] == "Your appointment"
    assert email["List-Unsubscribe"] == "<https://clinic.example/u/abc>"
    assert email.get_body(("plain",)).get_content().strip() == message.text
    assert "<b>Tuesday</b>" in email.get_body(("html",)).get_content()
    [ics] = list(email.iter_attachments())
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "REQUEST"
    assert ics.get_filename() == "appointment.ics"
    assert ics.get_payload(decode=True) == ICS
    assert accepted.provider_message_id == email["Message-ID"]


def test_without_html_the_message_is_plain_text_only(mailbox, outgoing):
    box, port = mailbox

    plain(port).send(outgoing())

    [(_, _, email)] = box.received
    assert email.get_content_type() == "text/plain"
    assert email.get_body(("html",)) is None


def test_a_retry_is_recognisably_the_same_message(mailbox, outgoing):
    box, port = mailbox
    message = outgoing()

    plain(port).send(message)
    plain(port).send(message)
    plain(port).send(outgoing(delivery_id=uuid.uuid4()))

    ids = [email["Message-ID"] for _, _, email in box.received]
    assert ids[0] == ids[1] == f"<{message.delivery_id}@demo.clinic>"
    assert ids[2] != ids[0]


def test_a_refused_recipient_fails_for_good_without_the_address_in_the_reason(mailbox, outgoing):
    box, port = mailbox
    box.refuse[PATIENT_EMAIL] = f"550 5.1.1 <{PATIENT_EMAIL}>: Recipient address rejected"

    with pytest.raises(PermanentFailure) as failed:
        plain(port).send(outgoing())

    assert failed.value.code == failures.INVALID_ADDRESS
    assert "550" in failed.value.reason
    assert "Recipient address rejected" in failed.value.reason
    assert PATIENT_EMAIL not in failed.value.reason
    assert box.received == []


def test_a_recipient_to_try_later_is_transient(mailbox, outgoing):
    box, port = mailbox
    box.refuse[PATIENT_EMAIL] = "451 4.3.0 Mailbox temporarily unavailable"

    with pytest.raises(TransientFailure) as failed:
        plain(port).send(outgoing())

    assert failed.value.code == failures.DEFERRED
    assert "451" in failed.value.reason


def test_a_closed_port_is_transient(outgoing):
    with pytest.raises(TransientFailure) as failed:
        plain(free_port()).send(outgoing())

    assert failed.value.code == failures.NETWORK
    assert "could not be reached" in failed.value.reason


def test_a_server_that_never_greets_times_out_as_transient(outgoing):
    with socket.socket() as silent:  # accepts connections (the backlog) and says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen()

        with pytest.raises(TransientFailure) as failed:
            plain(silent.getsockname()[1], timeout=0.5).send(outgoing())

    assert failed.value.code == failures.NETWORK


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"subject": "Hello\r\nBcc: everyone@example.org"}, "linefeed"),
        ({"headers": {"From": "someone-else@example.org"}}, "From header"),
    ],
)
def test_a_message_that_cannot_be_built_safely_is_refused_before_sending(
    mailbox, outgoing, changes, why
):
    box, port = mailbox

    with pytest.raises(PermanentFailure) as failed:
        plain(port).send(outgoing(**changes))

    assert failed.value.code == failures.BAD_MESSAGE
    assert why in failed.value.reason
    assert box.received == []


def test_starttls_and_login_are_used_when_configured(tmp_path, outgoing):
    server_tls, client_tls = tls_pair(tmp_path)
    box = Mailbox()
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"right-password", handled=False)

    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        settings = {"username": "desk", "ssl_context": client_tls}
        SmtpEmail(
            "127.0.0.1", controller.port, from_address=FROM, **settings, password="right-password"
        ).send(outgoing())
        with pytest.raises(TransientFailure) as refused:
            SmtpEmail(
                "127.0.0.1",
                controller.port,
                from_address=FROM,
                **settings,
                password="wrong-password",
            ).send(outgoing())
        with pytest.raises(TransientFailure) as untrusted:  # the system's CAs do not know it
            SmtpEmail(
                "127.0.0.1",
                controller.port,
                from_address=FROM,
                username="desk",
                password="right-password",
            ).send(outgoing())
    finally:
        controller.stop()

    assert len(box.received) == 1
    assert logins[0] == (b"desk", b"right-password")
    assert set(logins[1:]) == {(b"desk", b"wrong-password")}  # smtplib tries each mechanism
    assert refused.value.code == failures.PROVIDER_AUTH
    assert "wrong-password" not in refused.value.reason
    assert untrusted.value.code == failures.PROVIDER_CONFIG


def test_implicit_tls_speaks_tls_from_the_first_byte(tmp_path, outgoing):
    server_tls, client_tls = tls_pair(tmp_path)
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), ssl_context=server_tls)
    controller.start()
    try:
        smtps = SmtpEmail("127.0.0.1", controller.port, from_address=FROM, starttls=False,
                          implicit_tls=True, ssl_context=client_tls)  # fmt: skip
        smtps.send(outgoing())
    finally:
        controller.stop()

    [(_, rcpt_tos, _)] = box.received
    assert rcpt_tos == [PATIENT_EMAIL]


def test_a_server_without_starttls_is_a_settings_problem(mailbox, outgoing):
    _, port = mailbox

    with pytest.raises(TransientFailure) as failed:
        SmtpEmail("127.0.0.1", port, from_address=FROM).send(outgoing())

    assert failed.value.code == failures.PROVIDER_CONFIG
    assert "STARTTLS" in failed.value.reason


def test_settings_that_cannot_work_are_refused_at_once():
    with pytest.raises(ValueError, match="not both"):
        SmtpEmail("mail.example.org", 465, from_address=FROM, starttls=True, implicit_tls=True)
    with pytest.raises(ValueError, match="name@domain"):
        SmtpEmail("mail.example.org", 587, from_address="no-reply")


def tls_pair(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the server's context and a client context
    that trusts exactly it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


def test_smtplib_errors_are_oserrors():
    """The provider catches OSError: every smtplib failure must be one."""
    assert issubclass(smtplib.SMTPException, OSError)
    assert issubclass(ssl.SSLError, OSError)
