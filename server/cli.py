"""``clinicdesk``: one command for the server, the demo and the desktop.

``clinicdesk desktop`` hands over to ``python -m desktop`` by replacing this process, so
the server package never imports desktop code.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from common.errors import DomainError, InvalidInput
from common.roles import Role

DEMO_CREDENTIALS_FILE = Path("var") / "demo-credentials.json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    # The desktop's own options pass through untouched; every other command is strict.
    args, extra = parser.parse_known_args(argv)
    if args.handler is _desktop:
        args.rest = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        result: int = args.handler(args)
    except DomainError as exc:
        print(f"clinicdesk: {exc.message}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinicdesk", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the server (applies migrations first)")
    serve.add_argument("--host", help="bind address (default CLINICDESK_BIND_HOST)")
    serve.add_argument("--port", type=int, help="port (default CLINICDESK_BIND_PORT)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (more than one needs PostgreSQL)",
    )
    serve.set_defaults(handler=_serve)

    seed = commands.add_parser("seed-demo", help="create the demo clinic unless it exists")
    seed.set_defaults(handler=_seed_demo)

    clinic = commands.add_parser("create-clinic", help="add a clinic (a tenant)")
    clinic.add_argument("--slug", required=True, help="short name, e.g. riverside-physio")
    clinic.add_argument("--name", required=True)
    clinic.add_argument("--time-zone", required=True, help="IANA name, e.g. Europe/London")
    clinic.add_argument(
        "--country",
        help="ISO 3166 code, e.g. GB, for reading phone numbers (default: the time zone's)",
    )
    clinic.set_defaults(handler=_create_clinic)

    user = commands.add_parser("create-user", help="add a staff user to a clinic")
    user.add_argument("--clinic", required=True, help="the clinic's short name")
    user.add_argument("--email", required=True)
    user.add_argument("--name", required=True, help="display name")
    user.add_argument("--role", required=True, choices=[r.value for r in Role])
    user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user.set_defaults(handler=_create_user)

    dispatch = commands.add_parser(
        "dispatch",
        help="send due messages; run several next to CLINICDESK_DISPATCH_IN_SERVER=false",
    )
    dispatch.add_argument("--once", action="store_true", help="send what is due now, then stop")
    dispatch.set_defaults(handler=_dispatch)

    purge = commands.add_parser(
        "purge-tombstones", help="drop appointment tombstones older than --days (default 180)"
    )
    purge.add_argument("--days", type=int, default=180)
    purge.set_defaults(handler=_purge_tombstones)

    portal_logs = commands.add_parser(
        "purge-portal-logs",
        help="forget portal sessions and sign-in links older than 90 days (the server "
        "also does this daily while it dispatches messages)",
    )
    portal_logs.set_defaults(handler=_purge_portal_logs)

    # No help of its own: ``clinicdesk desktop --help`` reaches the desktop's parser, which
    # knows its options (the server does not import the desktop).
    desktop = commands.add_parser(
        "desktop",
        help="open the front-desk program ('clinicdesk desktop --help' lists its options)",
        add_help=False,
    )
    desktop.set_defaults(handler=_desktop)
    return parser


def _serve(args: argparse.Namespace) -> int:
    """Migrate once, then let uvicorn run ``--workers`` processes, each building the app
    from the environment (``server.app.app_from_environment``)."""
    import uvicorn

    from server.config import get_settings
    from server.db import migrate

    settings = get_settings()
    if args.workers < 1:
        raise InvalidInput("--workers must be at least 1.")
    if args.workers > 1 and settings.is_sqlite:
        raise InvalidInput(
            f"--workers {args.workers} needs PostgreSQL: the embedded SQLite database is "
            "for one server process. Set CLINICDESK_DATABASE_URL to a PostgreSQL database "
            "(postgresql+psycopg://user@host/db), or serve with --workers 1."
        )
    migrate(settings.database_url, settings)
    uvicorn.run(
        "server.app:app_from_environment",
        factory=True,
        workers=args.workers,
        host=args.host or settings.bind_host,
        port=args.port or settings.bind_port,
        log_level="info",
        # The client's real address behind a reverse proxy, from the proxies we trust.
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        # Desks keep event streams open; don't wait on them for ever when stopping.
        timeout_graceful_shutdown=5,
    )
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    """A dispatcher process: claims due deliveries (with SKIP LOCKED on PostgreSQL, so
    any number may run) and processes stored webhook events, until stopped."""
    import signal
    import threading

    import httpx

    from server.config import get_settings
    from server.db import Database, make_engine, migrate
    from server.messaging import inbound
    from server.messaging.runner import make_dispatcher

    settings = get_settings()
    migrate(settings.database_url)
    db = Database(make_engine(settings.database_url), write_wait=settings.db_write_wait)
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client:
        dispatcher = make_dispatcher(db, settings, client)
        if args.once:
            inbound.process_pending(db)
            done = dispatcher.drain()
            print(
                f"sent {done.sent}, retrying {done.retrying}, failed {done.failed}, "
                f"held {done.held}, waiting for the morning {done.waiting}"
            )
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        dispatcher.run(stop)
    return 0


def _session_factory() -> sessionmaker[Session]:
    """Sessions on the configured database, migrated; migrating also gives this process
    the field keys that patients' phone numbers are sealed with."""
    from server.config import get_settings
    from server.db import make_engine, make_sessionmaker, migrate

    settings = get_settings()
    migrate(settings.database_url, settings)
    return make_sessionmaker(make_engine(settings.database_url))


def _seed_demo(_args: argparse.Namespace) -> int:
    import server.models  # noqa: F401  - versions for the seeded rows
    from server.config import get_settings
    from server.db import transaction
    from server.demo import (
        DEMO_LOGINS,
        DEMO_PORTAL_PASSWORD,
        seed_demo,
        seed_demo_bills,
        seed_demo_care,
        seed_demo_conversations,
        seed_demo_forms,
        seed_demo_online,
        seed_demo_portal,
    )

    with transaction(_session_factory()) as session:
        clinic, created = seed_demo(session)
        if created:
            seed_demo_conversations(session, clinic)
            seed_demo_online(session, clinic)
            portal_email: str | None = seed_demo_portal(session, clinic)
            seed_demo_forms(session, clinic)
            settings = get_settings()
            seed_demo_care(session, clinic, settings.media_dir, settings.public_base_url)
            seed_demo_bills(session, clinic)
        else:
            portal_email = None
        slug, name = clinic.slug, clinic.name
    print(f"{'Created' if created else 'Already there'}: {name} (clinic short name '{slug}')")
    for login in DEMO_LOGINS:
        print(f"  {login.role.label:<13} {login.email}  password: {login.password}")
    if portal_email:
        print(f"  Patient portal: /portal/demo  {portal_email}  password: {DEMO_PORTAL_PASSWORD}")
    DEMO_CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEMO_CREDENTIALS_FILE.write_text(
        json.dumps(
            {"clinic": slug, "email": DEMO_LOGINS[0].email, "password": DEMO_LOGINS[0].password}
        )
    )
    return 0


def _create_clinic(args: argparse.Namespace) -> int:
    from server.clinics.service import create_clinic
    from server.db import transaction

    with transaction(_session_factory()) as session:
        clinic = create_clinic(
            session,
            slug=args.slug,
            name=args.name,
            time_zone=args.time_zone,
            country=args.country,
        )
        where = f", {clinic.country}" if clinic.country else ""
        print(f"Created clinic {clinic.name!r} ({clinic.slug}, {clinic.time_zone}{where}).")
    return 0


def _create_user(args: argparse.Namespace) -> int:
    from common.errors import NotFound
    from server.clinics import repository as clinics
    from server.db import transaction
    from server.staff.service import create_staff_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password for the new user: ")
    with transaction(_session_factory()) as session:
        clinic = clinics.by_slug(session, args.clinic)
        if clinic is None:
            raise NotFound(f"There is no clinic with the short name {args.clinic!r}.")
        user = create_staff_user(
            session,
            clinic,
            email=args.email,
            display_name=args.name,
            password=password,
            role=Role(args.role),
        )
        print(f"Created {user.role.label.lower()} {user.email} at {clinic.name}.")
    return 0


def _purge_tombstones(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from server.changefeed.service import purge_tombstones
    from server.clinics.models import Clinic
    from server.db import transaction

    if args.days < 1:
        raise InvalidInput("--days must be at least 1.")
    before = datetime.now(UTC) - timedelta(days=args.days)
    with transaction(_session_factory()) as session:
        for clinic_id, slug in session.execute(select(Clinic.id, Clinic.slug)).all():
            print(f"{slug}: {purge_tombstones(session, clinic_id, before)} tombstones purged")
    return 0


def _purge_portal_logs(_args: argparse.Namespace) -> int:
    from server.db import transaction, utcnow
    from server.portal import accounts

    with transaction(_session_factory()) as session:
        sessions = accounts.purge(session, utcnow())
    print(f"Purged {sessions} portal session(s) and the sign-in links older than 90 days.")
    return 0


def _desktop(args: argparse.Namespace) -> int:
    os.execv(sys.executable, [sys.executable, "-m", "desktop", *args.rest])  # noqa: S606
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    raise SystemExit(main())
