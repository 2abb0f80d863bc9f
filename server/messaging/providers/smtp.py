"""E-mail through an SMTP server (the clinic's own, or a relay such as a mail service's).

The message is built with ``email.message.EmailMessage``: the text, and the HTML as an
alternative to it when there is one, then any attachments (an appointment's .ics as
``text/calendar; method=REQUEST``, which mail programs offer to add to the calendar). Its
``Message-ID`` is made from the delivery id, so a message sent again after a timeout is
recognisably the same message to the recipient's mail program and in the server's logs.

SMTP's reply codes say what a failure means: 4xx is "try later" (transient), 5xx to the
recipient is "never" (permanent). A refused login or sender, or a failed TLS handshake,
is our side's setting (transient, ``provider_auth`` / ``provider_config``): the message
waits until staff correct it.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime

from common.messaging import Channel
from server.messaging.providers import failures
from server.messaging.providers.base import (
    Accepted,
    Attachment,
    Outgoing,
    PermanentFailure,
    SendFailure,
    TransientFailure,
)
from server.messaging.redact import redact

# Headers the message gets from the delivery itself; extra headers may not replace them.
OWN_HEADERS = frozenset(
    {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
    | {"content-transfer-encoding", "sender", "cc", "bcc", "reply-to"}
)
SERVER = "The mail server"


class SmtpEmail:
    name = "smtp"
    channel = Channel.EMAIL

    def __init__(
        self,
        host: str,
        port: int,
        *,
        from_address: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        implicit_tls: bool = False,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``starttls`` upgrades a plain connection (port 587); ``implicit_tls`` speaks TLS
        from the first byte (port 465). ``ssl_context`` defaults to the system's trusted
        certificates with host name checking."""
        if starttls and implicit_tls:
            raise ValueError("Choose STARTTLS or implicit TLS for SMTP, not both.")
        local, _, domain = from_address.rpartition("@")
        if not local or not domain:
            raise ValueError("The e-mail sender address must look like name@domain.")
        self._host = host
        self._port = port
        self._from_address = from_address
        self._domain = domain
        self._username = username
        self._password = password or ""
        self._starttls = starttls
        self._implicit_tls = implicit_tls
        self._timeout = timeout
        self._ssl_context = ssl_context or ssl.create_default_context()

    def send(self, message: Outgoing) -> Accepted:
        email = self.build(message)
        try:
            with self._connect() as smtp:
                smtp.send_message(email, from_addr=self._from_address, to_addrs=[message.to])
        except OSError as exc:  # every SMTP, TLS and socket fault is an OSError
            raise _failure(exc) from exc
        return Accepted(provider_message_id=email["Message-ID"])

    def message_id(self, message: Outgoing) -> str:
        return f"<{message.delivery_id}@{self._domain}>"

    def build(self, message: Outgoing) -> EmailMessage:
        try:
            email = EmailMessage()
            email["From"] = Address(display_name=message.sender_name, addr_spec=self._from_address)
            email["To"] = message.to
            email["Subject"] = message.subject
            email["Date"] = format_datetime(datetime.now(UTC))
            email["Message-ID"] = self.message_id(message)
            for name, value in message.headers.items():
                if name.lower() in OWN_HEADERS:
                    raise ValueError(f"the {name} header is set from the message itself")
                email[name] = value
            email.set_content(message.text)
            if message.html is not None:
                email.add_alternative(message.html, subtype="html")
            for attachment in message.attachments:
                _attach(email, attachment)
        except ValueError as exc:  # a header with a line break, a malformed content type
            raise PermanentFailure(
                f"The e-mail could not be put together: {redact(str(exc))}.",
                code=failures.BAD_MESSAGE,
            ) from exc
        return email

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self._implicit_tls:
            smtp = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._ssl_context
            )
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        try:
            if self._starttls:
                smtp.starttls(context=self._ssl_context)
            if self._username:
                smtp.login(self._username, self._password)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _attach(email: EmailMessage, attachment: Attachment) -> None:
    """Attach with the full content type, parameters included (``method=REQUEST``)."""
    header = Message()
    header["Content-Type"] = attachment.content_type
    params = dict(header.get_params(failobj=[])[1:])
    email.add_attachment(
        attachment.content,
        maintype=header.get_content_maintype(),
        subtype=header.get_content_subtype(),
        filename=attachment.filename,
        params=params,
    )


def _reply(code: int, text: bytes | str) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return redact(f"{code} {' '.join(said.split())}")


def _failure(exc: OSError) -> SendFailure:
    """An SMTP or socket fault as a failure: 5xx for the recipient or the message is
    permanent, anything about our login, sender or connection is transient."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        if code >= 500:
            return PermanentFailure(
                f"{SERVER} refused the address: {_reply(code, text)}.",
                code=failures.INVALID_ADDRESS,
            )
        return TransientFailure(
            f"{SERVER} asked to try the address again later: {_reply(code, text)}.",
            code=failures.DEFERRED,
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return TransientFailure(
            f"{SERVER} refused our user name or password ({_reply(exc.smtp_code, exc.smtp_error)})."
            " Check the SMTP settings.",
            code=failures.PROVIDER_AUTH,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return TransientFailure(
            f"{SERVER} refused our sender address: {_reply(exc.smtp_code, exc.smtp_error)}.",
            code=failures.PROVIDER_CONFIG if exc.smtp_code >= 500 else failures.DEFERRED,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return TransientFailure(
            f"{SERVER} does not offer what the settings ask for ({exc}). Check the SMTP "
            "settings (STARTTLS, user name).",
            code=failures.PROVIDER_CONFIG,
        )
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return TransientFailure(
            f"{SERVER} would not talk to us: {_reply(exc.smtp_code, exc.smtp_error)}.",
            code=failures.NETWORK,
        )
    if isinstance(exc, smtplib.SMTPResponseException):  # the message itself (DATA)
        if exc.smtp_code >= 500:
            return PermanentFailure(
                f"{SERVER} refused the message: {_reply(exc.smtp_code, exc.smtp_error)}.",
                code=failures.REJECTED,
            )
        return TransientFailure(
            f"{SERVER} asked to try the message again later: "
            f"{_reply(exc.smtp_code, exc.smtp_error)}.",
            code=failures.DEFERRED,
        )
    if isinstance(exc, ssl.SSLError):
        return TransientFailure(
            f"A secure connection to {SERVER.lower()} failed ({exc.reason or 'TLS error'}). "
            "Check the SMTP host, port and TLS settings.",
            code=failures.PROVIDER_CONFIG,
        )
    # Refused, reset, timed out, disconnected.
    return TransientFailure(
        f"{SERVER} could not be reached ({type(exc).__name__}); the message will be tried again.",
        code=failures.NETWORK,
    )
