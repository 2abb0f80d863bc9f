"""Secrets the desk keeps in the OS keyring: the store's raw key and the device token.

With no secure keyring (no Secret Service, Keychain or Windows Credential Locker), the
desk refuses to start rather than invent a weak key or write one to a plain file.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError

from common.errors import DomainError

SERVICE = "clinicdesk"
KEY_BYTES = 32  # 256-bit raw SQLCipher key

# The operating systems' own keyrings: encrypted at rest, unlocked with the user's
# session. Anything else (plaintext files, keyrings that prompt on a terminal, the "fail"
# backend) is refused. Tests add their in-memory backend here.
TRUSTED_BACKENDS = {
    "keyring.backends.SecretService.Keyring",
    "keyring.backends.libsecret.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.kwallet.DBusKeyringKWallet4",
    "keyring.backends.macOS.Keyring",
    "keyring.backends.Windows.WinVaultKeyring",
}

HOW_TO_GET_A_KEYRING = (
    "Clinicdesk keeps the key to its encrypted local copy in the system keyring, and none "
    "is available. On Linux, install and unlock a Secret Service keyring (GNOME Keyring or "
    "KWallet, for example 'sudo apt install gnome-keyring') and sign in to a desktop "
    "session; on Windows and macOS the built-in keyring is used. Then start Clinicdesk again."
)


class KeyringUnavailable(DomainError):
    status = 503
    code = "keyring_unavailable"


class StoreKeyMissing(DomainError):
    status = 409
    code = "store_key_missing"


def _backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _usable(backend: KeyringBackend) -> bool:
    children = getattr(backend, "backends", None)
    if children is not None:  # the chainer: usable if any member is
        return any(_usable(child) for child in children)
    return _backend_name(backend) in TRUSTED_BACKENDS


def require_secure_keyring() -> None:
    """Raise ``KeyringUnavailable`` (with instructions) unless a secure backend is active."""
    if not _usable(keyring.get_keyring()):
        raise KeyringUnavailable(HOW_TO_GET_A_KEYRING)


def _get(name: str) -> str | None:
    try:
        value: str | None = keyring.get_password(SERVICE, name)
    except KeyringError as exc:
        raise KeyringUnavailable(f"{HOW_TO_GET_A_KEYRING} (The keyring said: {exc}.)") from exc
    return value


def _set(name: str, value: str) -> None:
    try:
        keyring.set_password(SERVICE, name, value)
    except KeyringError as exc:
        raise KeyringUnavailable(f"{HOW_TO_GET_A_KEYRING} (The keyring said: {exc}.)") from exc


def store_key(path: Path) -> bytes:
    """The raw key for the store at ``path``, made on first use.

    If the store exists but its key is gone, say so: making a new key would only produce
    a second error, and the old file may hold unsent changes.
    """
    require_secure_keyring()
    name = f"store-key:{path.resolve()}"
    stored = _get(name)
    if stored is not None:
        return bytes.fromhex(stored)
    if path.exists():
        raise StoreKeyMissing(
            f"The key to the local store {path} is no longer in the system keyring, so the "
            "store cannot be opened. If this workstation's keyring was reset, move that file "
            "aside and sign in again to download the clinic's data afresh."
        )
    key = secrets.token_bytes(KEY_BYTES)
    _set(name, key.hex())
    return key


def _device_entry(store: Path) -> str:
    # One enrollment per desk installation (its store), not per machine: two folders of
    # desk data are two workstations as far as the server is concerned.
    return f"device-token:{store.resolve()}"


def device_token(store: Path) -> str | None:
    require_secure_keyring()
    return _get(_device_entry(store))


def save_device_token(store: Path, token: str) -> None:
    _set(_device_entry(store), token)


def forget_device_token(store: Path) -> None:
    with contextlib.suppress(KeyringError):  # already gone is fine
        keyring.delete_password(SERVICE, _device_entry(store))
