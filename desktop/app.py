"""Start the desk: check the keyring, sign in, open the main window."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from common.errors import DomainError
from desktop.config import SYNC_INTERVAL_SECONDS, SignInDefaults, data_dir
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from desktop.signin import SignInDialog
from sync import keys
from sync.account import Desk, sync_client
from sync.engine import SyncEngine

EXIT_AFTER_SHOWN = "CLINICDESK_DEMO_EXIT_AFTER_SHOWN"


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="clinicdesk desktop",
        description="The front desk: sign in, then the diary, worklists and settings. "
        "It keeps an encrypted copy of the clinic on this computer and works offline.",
        epilog="The sign-in dialog suggests the address, clinic and e-mail used last time; "
        "these options replace those suggestions.",
    )
    parser.add_argument(
        "--server",
        metavar="URL",
        help="server address, e.g. https://clinic.example.com "
        "(default: the last one used, else CLINICDESK_SERVER_URL)",
    )
    parser.add_argument("--clinic", metavar="SHORT_NAME", help="the clinic's short name, e.g. demo")
    parser.add_argument("--email", help="e-mail address to sign in with")
    parser.add_argument(
        "--demo-credentials",
        type=Path,
        metavar="FILE",
        help="sign in at once with the demo login written by 'clinicdesk seed-demo' "
        "(var/demo-credentials.json)",
    )
    return parser.parse_args(argv)


def cannot_start(reason: str) -> int:
    """Say why the desk cannot start where whoever started it will see it: on the
    terminal (``make demo``, a script, a log) and in a dialog. Returns the exit code."""
    print(f"Clinicdesk cannot start: {reason}", file=sys.stderr, flush=True)
    if not os.environ.get(EXIT_AFTER_SHOWN):  # a start-up check has nobody to click OK
        QMessageBox.critical(None, "Clinicdesk cannot start", reason)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("Clinicdesk")
    app.setApplicationName("Clinicdesk")
    # A check of start-up (make test runs the demo this way): quit once the window shows.
    exit_when_shown = bool(os.environ.get(EXIT_AFTER_SHOWN))

    try:
        keys.require_secure_keyring()
    except DomainError as exc:
        return cannot_start(exc.message)

    defaults = SignInDefaults.load()
    defaults.server_url = args.server or defaults.server_url
    defaults.clinic = args.clinic or defaults.clinic
    defaults.email = args.email or defaults.email
    runner = TaskRunner()
    dialog = SignInDialog(runner, data_dir(), defaults)
    if args.demo_credentials:
        try:
            demo = json.loads(args.demo_credentials.read_text())
        except (OSError, ValueError) as exc:
            runner.shutdown()
            return cannot_start(
                f"The demo login in {args.demo_credentials} could not be read ({exc}). "
                "Run 'clinicdesk seed-demo' first."
            )
        dialog.clinic.setText(demo["clinic"])
        dialog.email.setText(demo["email"])
        dialog.password.setText(demo["password"])
        dialog.refused.connect(
            lambda text: print(f"Signing in with the demo login failed: {text}", file=sys.stderr)
        )
        if exit_when_shown:
            dialog.refused.connect(lambda _text: dialog.reject())
        dialog.submit()
    if dialog.exec() != QDialog.DialogCode.Accepted or dialog.desk is None:
        runner.shutdown()
        return 1 if exit_when_shown else 0

    desk = dialog.desk
    window = MainWindow(
        desk, runner, SyncEngine(desk.store, sync_client(desk)), SYNC_INTERVAL_SECONDS
    )
    window.show()
    QTimer.singleShot(0, lambda: _shown(app, desk, exit_when_shown))
    code = app.exec()
    runner.shutdown()
    desk.store.close()
    return int(code)


def _shown(app: QCoreApplication, desk: Desk, exit_when_shown: bool) -> None:
    """The main window is on screen: say so on the terminal, whoever reads it."""
    print(
        f"Signed in as {desk.staff.display_name} at {desk.clinic_name} ({desk.server_url}).",
        flush=True,
    )
    if exit_when_shown:
        app.quit()
