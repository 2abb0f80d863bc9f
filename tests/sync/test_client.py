"""The desk's client against a real server: every failure arrives as words to act on."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from common.errors import DeviceTokenExpired, InvalidInput, NotAuthenticated, WrongCredentials
from sync.client import (
    NotAClinicdeskServer,
    ServerClient,
    ServerUnreachable,
    normalise_server_url,
)
from sync.protocol import Cursor
from tests.support.live_server import LiveServer


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("  clinic.example.com/ ", "https://clinic.example.com"),
        ("https://Clinic.Example.com/desk/", "https://clinic.example.com/desk"),
        ("http://[::1]:8765", "http://[::1]:8765"),
    ],
)
def test_server_addresses_are_normalised(typed: str, expected: str) -> None:
    assert normalise_server_url(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "ftp://clinic.example.com",
        "http://",
        "http://exa mple.com",
        "http://host:99999",
        "https://clinic.example.com/?x=1",
        "::::",
    ],
)
def test_malformed_server_addresses_get_a_clear_message(typed: str) -> None:
    with pytest.raises(InvalidInput, match=r"not a server address\. Use the form https://"):
        normalise_server_url(typed)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_server_is_reported_as_such() -> None:
    client = ServerClient(f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(ServerUnreachable, match=r"Can't reach the server at http://127\.0\.0\.1"):
        client.changes(Cursor.start())
    client.close()


class _NotOurs(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._html(404)

    def do_POST(self) -> None:
        self._html(200)

    def _html(self, status: int) -> None:
        body = b"<html><body>Welcome to nginx!</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def some_other_website() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), _NotOurs)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_website_that_is_not_clinicdesk_is_named_as_such(some_other_website: str) -> None:
    client = ServerClient(some_other_website)
    with pytest.raises(NotAClinicdeskServer, match="not a Clinicdesk server"):
        client.changes(Cursor.start())
    with pytest.raises(NotAClinicdeskServer, match="not a Clinicdesk server"):
        client.enroll("demo", "frontdesk@demo.clinic", "frontdesk-demo-1", "desk-1")
    client.close()


def test_wrong_password_says_so(live_server: LiveServer) -> None:
    client = ServerClient(live_server.url)
    with pytest.raises(WrongCredentials, match="e-mail address or password is not right"):
        client.enroll("demo", "frontdesk@demo.clinic", "not-the-password", "desk-1")
    client.close()


def test_blank_fields_are_caught_before_the_request(live_server: LiveServer) -> None:
    client = ServerClient(live_server.url)
    with pytest.raises(InvalidInput, match="Please check: password"):
        client.enroll("demo", "frontdesk@demo.clinic", "", "desk-1")
    client.close()


def test_pulling_without_enrollment_is_refused(live_server: LiveServer) -> None:
    client = ServerClient(live_server.url)
    with pytest.raises(NotAuthenticated, match="not enrolled"):
        client.changes(Cursor.start())
    client.device_token = "made-up"
    with pytest.raises(NotAuthenticated, match="not enrolled"):
        client.changes(Cursor.start())
    client.close()


def test_an_expired_device_token_is_reported_with_what_to_do(live_server: LiveServer) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from server.db import utcnow
    from server.staff.models import Device

    client = ServerClient(live_server.url)
    enrolled = client.enroll("demo", "frontdesk@demo.clinic", "frontdesk-demo-1", "desk-1")
    client.device_token = enrolled.device_token
    assert client.changes(Cursor.start(), limit=5).row_count == 5
    with live_server.sessionmaker.begin() as session:
        session.execute(update(Device).values(expires_at=utcnow() - timedelta(minutes=1)))
    with pytest.raises(DeviceTokenExpired, match="Sign in again to re-enroll"):
        client.changes(Cursor.start())
    client.close()
