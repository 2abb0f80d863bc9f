"""``make bench``: the patient portal's appointment list under 50 signed-in patients.

Fifty of the demo clinic's patients get a portal account and a session each (written
straight to the database, as the invitation would leave them); each of 50 clients then
asks for its own patient's appointment list as fast as it gets answers, against a real
``clinicdesk serve`` (one process, SQLite), beside a bare FastAPI endpoint served the
same way in the same run. Every request is a real signed-in page: the session looked up
by its digest, the patient's records read, the read audited. No target is set for the
ratio: it is watched, and read beside the widget's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

import server.models  # noqa: F401  - version stamping
from common.portal import Relation
from server.config import Settings
from server.crypto import configure
from server.db import make_engine, make_sessionmaker, transaction, utcnow
from server.patients.models import Patient
from server.portal import accounts
from server.portal.models import PortalMember
from server.scheduling.models import Appointment
from tests.bench.server_bench import Call, _rate, bare_server, bare_work, hammer
from tests.bench.sync_bench import Row, p95
from tests.support.live_server import seed_demo_database
from tests.support.served import ServeProcess

SLUG = "demo"
PAGE = f"/portal/{SLUG}/appointments"
COOKIE = "__Host-clinicdesk-portal"  # what a browser on loopback keeps


def signed_in_patients(database_url: str, count: int) -> list[str]:
    """Session tokens of ``count`` patients with appointments, each with an account."""
    configure(Settings(database_url=database_url, environment="test"))
    engine = make_engine(database_url)
    now = utcnow()
    tokens: list[str] = []
    try:
        with transaction(make_sessionmaker(engine)) as session:
            patient_ids = list(
                session.scalars(select(Appointment.patient_id).distinct().limit(count))
            )
            for n, patient_id in enumerate(patient_ids):
                patient = session.get(Patient, patient_id)
                assert patient is not None
                account = accounts.create_account(session, f"bench{n}@example.org", now)
                session.add(
                    PortalMember(
                        clinic_id=patient.clinic_id,
                        patient_id=patient.id,
                        account_id=account.id,
                        relation=Relation.SELF,
                    )
                )
                started = accounts.start_session(
                    session, account, patient.clinic_id, now, method="bench"
                )
                tokens.append(started.token)
    finally:
        engine.dispose()
    return tokens


def rows(work: Path, *, clients: int = 50, seconds: float = 20.0) -> list[Row]:
    path = work / "portal.sqlite3"
    seed_demo_database(path)
    database_url = f"sqlite:///{path}"
    tokens = signed_in_patients(database_url, clients)
    with bare_server(work, 1) as bare_url:
        bare = _rate(asyncio.run(hammer(bare_url, clients, seconds, bare_work)), seconds)
    found = [Row("portal, bare FastAPI endpoint: requests/s", bare, "req/s")]

    def work_of(client: int, _n: int) -> Call:
        cookie = {"cookie": f"{COOKIE}={tokens[client % len(tokens)]}"}
        return lambda session: session.get(PAGE, headers=cookie)

    with ServeProcess(database_url, work / "portal.log") as served:
        tally = asyncio.run(hammer(served.url, clients, seconds, work_of))
    rate = _rate(tally, seconds)
    others = sum(count for status, count in tally.statuses.items() if status != 200)
    ratio = rate / bare if bare else 0.0
    found += [
        Row(
            f"portal, appointment list ({len(tokens)} signed-in patients): requests/s",
            rate,
            "req/s",
        ),
        Row("portal, appointment list: p95", p95(tally.latencies) * 1000, "ms"),
        Row("portal, appointment list: share of a bare FastAPI endpoint", ratio, "x"),
        Row("portal, appointment list: answers other than the page", others, "", "0", others == 0),
    ]
    return found


__all__ = ["rows"]
