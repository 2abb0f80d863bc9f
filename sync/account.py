"""Signing a staff member in on this workstation, online or offline.

Online: enroll the workstation if it has no device token (or its token expired), then
sign in; the password's argon2 verifier is kept in the encrypted store. Offline: the same
person can sign in against that verifier and work from the local copy.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from common.errors import DeviceTokenExpired, NotAuthenticated, WrongCredentials
from common.patients import country_for_time_zone
from sync import keys
from sync.client import (
    NotAClinicdeskServer,
    ServerClient,
    ServerUnreachable,
    normalise_server_url,
)
from sync.protocol import ClinicInfo, StaffInfo
from sync.signing import Author, new_private_key, public_key_of
from sync.store import Store


@dataclass(frozen=True)
class Desk:
    """A signed-in desk: its store, who is at it, and how to reach the server.

    Everything the main window needs at start is read here, on a worker thread, so the UI
    thread never waits on the keyring or the store.
    """

    store: Store
    staff: StaffInfo
    server_url: str
    clinic_slug: str
    clinic_name: str
    time_zone: str
    online: bool
    session_token: str | None
    device_token: str | None
    last_sync_at: datetime | None
    # Signs every change this person makes here (see ``sync.signing``).
    author: Author
    # The clinic's country (ISO 3166): phone numbers typed without a country code are read
    # in it. None: not known, so numbers are typed with their country code.
    country: str | None = None


def store_path(data_dir: Path, server_url: str, clinic: str) -> Path:
    """One store per (server, clinic), so two clinics never share a cache."""
    digest = hashlib.sha256(f"{server_url}#{clinic}".encode()).hexdigest()[:16]
    return data_dir / f"desk-{digest}.db"


def sign_in(
    data_dir: Path,
    server_url: str,
    clinic: str,
    email: str,
    password: str,
    *,
    transport: httpx.BaseTransport | None = None,
) -> Desk:
    url = normalise_server_url(server_url)
    clinic = clinic.strip().lower()
    keys.require_secure_keyring()
    client = ServerClient(url, transport=transport)
    path = store_path(data_dir, url, clinic)
    try:
        try:
            staff, clinic_info, token, author = _sign_in_online(
                client, path, clinic, email, password
            )
        except ServerUnreachable:
            return _sign_in_offline(data_dir, url, clinic, email, password)
    finally:
        client.close()
    store = Store.open(path, keys.store_key(path))
    store.remember_login(email, password, staff, author)
    store.set_meta(
        {
            "clinic_name": clinic_info.name,
            "time_zone": clinic_info.time_zone,
            # "" for a clinic whose country is not known: numbers need their country code.
            "country": clinic_info.country or country_for_time_zone(clinic_info.time_zone) or "",
        }
    )
    return Desk(
        store,
        staff,
        url,
        clinic,
        clinic_info.name,
        clinic_info.time_zone,
        online=True,
        session_token=token,
        device_token=keys.device_token(store.path),
        last_sync_at=store.last_sync_at(),
        author=author,
        country=store.country(),
    )


def _sign_in_online(
    client: ServerClient, path: Path, clinic: str, email: str, password: str
) -> tuple[StaffInfo, ClinicInfo, str, Author]:
    """Sign in (enrolling the workstation first if it must be), registering a new
    signing key for this person on this workstation."""
    private_key = new_private_key()

    def signed_in() -> tuple[StaffInfo, ClinicInfo, str, Author]:
        answer = client.sign_in(email, password, public_key_of(private_key))
        if answer.signing_key_id is None:
            raise NotAClinicdeskServer(
                "The server did not accept this workstation's signing key; it may run an "
                "older Clinicdesk. Ask whoever runs it to update it."
            )
        author = Author(answer.staff.id, answer.signing_key_id, private_key)
        return answer.staff, answer.clinic, answer.session_token, author

    client.device_token = keys.device_token(path)
    if client.device_token is not None:
        try:
            return signed_in()
        except WrongCredentials:
            raise  # a typo must not cost the workstation its enrollment
        except (DeviceTokenExpired, NotAuthenticated):
            # The enrollment lapsed, was revoked or is unknown to this server: this login
            # enrolls the workstation afresh.
            keys.forget_device_token(path)
    enrolled = client.enroll(clinic, email, password, socket.gethostname() or "workstation")
    keys.save_device_token(path, enrolled.device_token)
    client.device_token = enrolled.device_token
    return signed_in()


def _sign_in_offline(data_dir: Path, url: str, clinic: str, email: str, password: str) -> Desk:
    path = store_path(data_dir, url, clinic)
    if not path.exists():
        raise ServerUnreachable(
            f"Can't reach the server at {url}, and this workstation has no local copy of "
            "that clinic yet. Check the address and the internet connection."
        )
    store = Store.open(path, keys.store_key(path))
    found = store.check_login(email, password)
    if found is None:
        store.close()
        raise ServerUnreachable(
            f"Can't reach the server at {url}. Offline, only staff who signed in on this "
            "workstation before (and are still active) can sign in, with the password they "
            "used then."
        )
    staff, author = found
    return Desk(
        store,
        staff,
        url,
        clinic,
        store.get_meta("clinic_name") or clinic,
        store.get_meta("time_zone") or "UTC",
        online=False,
        session_token=None,
        device_token=keys.device_token(store.path),
        last_sync_at=store.last_sync_at(),
        author=author,
        country=store.country(),
    )


def sync_client(desk: Desk, transport: httpx.BaseTransport | None = None) -> ServerClient:
    """A client for background sync: the workstation's token, and the signed-in
    person's session when they signed in online. Changes are proven by their signatures;
    the session makes an admin's "end this sign-in" (or deactivating the person) reach
    this desk at its next sync, which then asks for a sign-in."""
    return ServerClient(
        desk.server_url,
        device_token=desk.device_token,
        session_token=desk.session_token,
        transport=transport,
    )
