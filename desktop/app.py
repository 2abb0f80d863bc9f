"""Start the desk: check the keyring, sign in, open the main window."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from common.errors import DomainError
from desktop.config import SYNC_INTERVAL_SECONDS, SignInDefaults, data_dir
from desktop.kit.tasks import TaskRunner
from desktop.mainwindow import MainWindow
from desktop.signin import SignInDialog
from sync import keys
from sync.account import sync_client
from sync.engine import SyncEngine


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


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("Clinicdesk")
    app.setApplicationName("Clinicdesk")

    try:
        keys.require_secure_keyring()
    except DomainError as exc:
        QMessageBox.critical(None, "Clinicdesk cannot start", exc.message)
        return 1

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
            QMessageBox.critical(
                None,
                "Clinicdesk cannot start",
                f"The demo login in {args.demo_credentials} could not be read ({exc}). "
                "Run 'clinicdesk seed-demo' first.",
            )
            return 1
        dialog.clinic.setText(demo["clinic"])
        dialog.email.setText(demo["email"])
        dialog.password.setText(demo["password"])
        dialog.submit()
    if dialog.exec() != QDialog.DialogCode.Accepted or dialog.desk is None:
        runner.shutdown()
        return 0

    desk = dialog.desk
    window = MainWindow(
        desk, runner, SyncEngine(desk.store, sync_client(desk)), SYNC_INTERVAL_SECONDS
    )
    window.show()
    code = app.exec()
    runner.shutdown()
    desk.store.close()
    return int(code)
