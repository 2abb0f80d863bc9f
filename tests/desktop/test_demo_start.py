"""``make demo`` on a fresh machine: a screen but no keyring running. The demo's start-up
(packaging/demo.sh) runs under xvfb-run in a clean environment (no D-Bus session, a
home and XDG folders of its own, a var/ of its own, a free port) and must reach the
desk's main window, signed in; then everything it started must be gone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.served import free_port
from tests.support.server_process import ROOT

pytestmark = pytest.mark.slow
LIMIT_S = 50


def _processes_mentioning(marker: str) -> list[str]:
    """Processes whose environment or command line names ``marker`` (our temp folder):
    anything the demo started and left behind, however it detached itself."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "environ").read_bytes() + (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in text:
            found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()!r}")
    return found


NEEDS_XVFB = pytest.mark.skipif(
    shutil.which("xvfb-run") is None,
    reason="xvfb-run is missing (packaging/system-deps.sh installs it: package xvfb)",
)


def _clean_env(tmp_path: Path, port: int) -> dict[str, str]:
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(runtime),
        "CLINICDESK_BIN": str(Path(sys.executable).parent),
        "CLINICDESK_BIND_PORT": str(port),
    }  # and no DBUS_SESSION_BUS_ADDRESS, DISPLAY or QT_QPA_PLATFORM: xvfb-run gives a screen


@NEEDS_XVFB
def test_the_demo_opens_the_desk_signed_in_with_no_keyring_running(tmp_path: Path) -> None:
    port = free_port()
    env = _clean_env(tmp_path, port) | {"CLINICDESK_DEMO_EXIT_AFTER_SHOWN": "1"}
    started = time.monotonic()
    demo = subprocess.Popen(
        ["xvfb-run", "-a", "sh", str(ROOT / "packaging" / "demo.sh")],
        cwd=tmp_path,  # the demo's var/ (database, desk, keyring, credentials) lands here
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = demo.communicate(timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(demo.pid, signal.SIGKILL)
        output, _ = demo.communicate()
        pytest.fail(f"the demo did not reach the signed-in desk in {LIMIT_S} s:\n{output}")
    took = time.monotonic() - started

    assert demo.returncode == 0, output
    assert "Starting a private GNOME Keyring" in output, output
    assert f"Signed in as Robin Reception at Demo Clinic (http://127.0.0.1:{port})." in output
    assert "Server stopped." in output
    assert took < LIMIT_S
    assert (tmp_path / "var" / "desk").is_dir(), "the desk's store is in the demo's var/"

    deadline = time.monotonic() + 5  # a daemon may take a moment to see its bus go
    while (left := _processes_mentioning(str(tmp_path))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == [], "the demo left processes running"


@NEEDS_XVFB
def test_a_desk_stopped_by_hand_is_not_called_an_error(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen(
        ["xvfb-run", "-a", "sh", str(ROOT / "packaging" / "demo.sh")],
        cwd=tmp_path,
        env=_clean_env(tmp_path, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert demo.stdout is not None
    seen = []
    try:
        for line in demo.stdout:  # until the desk is up, signed in
            seen.append(line)
            if line.startswith("Signed in as"):
                break
        desk = [
            int(found.split(":")[0])
            for found in _processes_mentioning(str(tmp_path))
            if "\\x00desktop\\x00" in found and "dbus-run-session" not in found
        ]
        assert desk, "".join(seen)
        os.kill(max(desk), signal.SIGTERM)  # the innermost: the desk itself
        output, _ = demo.communicate(timeout=LIMIT_S)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    output = "".join(seen) + output
    assert "The desktop was stopped." in output, output
    assert "stopped with an error" not in output
    assert "Server stopped." in output
    assert demo.returncode == 0, output


def test_with_no_keyring_the_desk_refuses_and_says_why_on_the_terminal(tmp_path: Path) -> None:
    """The desk still invents no weak key: it stops, and the reason is on stderr (not
    only in a dialog nobody may see when it was started from a script)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "QT_QPA_PLATFORM": "offscreen",
        "CLINICDESK_DESK_DIR": str(tmp_path / "desk"),
        "CLINICDESK_DEMO_EXIT_AFTER_SHOWN": "1",  # no dialog to wait on
    }
    done = subprocess.run(
        [sys.executable, "-m", "desktop", "--server", "http://127.0.0.1:9"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Clinicdesk cannot start" in done.stderr
    assert "keyring" in done.stderr
    assert not (tmp_path / "desk").exists() or not any((tmp_path / "desk").iterdir())
