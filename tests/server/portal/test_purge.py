"""The portal's session log and sign-in links are kept 90 days, on both databases:
``accounts.purge``, ``clinicdesk purge-portal-logs``, and the dispatcher's daily chore."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.cli import main
from server.config import get_settings
from server.db import Database, transaction, utcnow
from server.messaging.runner import Daily, make_dispatcher, purge_portal_logs
from server.portal import accounts
from server.portal.models import MagicLink, PortalAccount, PortalSession
from tests.server.conftest import Factory
from tests.server.portal import portalmaker
from tests.server.web import linkmaker


@pytest.fixture
def where(factory: Factory, db: sessionmaker[Session]) -> linkmaker.Practice:
    clinic = factory.clinic("north")
    with transaction(db) as session:
        return linkmaker.practice(session, clinic.id)


def aged(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> dict[str, set[object]]:
    """Rosa's account with sessions and links 91 and 89 days old, and today's sign-in.
    Which ids should go and which stay."""
    portalmaker.signed_in(web, db, where.clinic_id, where.patient_id)
    now = utcnow()
    gone: set[object] = set()
    kept: set[object] = set()
    with transaction(db) as session:
        account = session.scalars(select(PortalAccount)).one()
        kept |= {s.id for s in session.scalars(select(PortalSession))}
        for days, bucket in ((91, gone), (89, kept)):
            then = now - timedelta(days=days)
            started = accounts.start_session(session, account, where.clinic_id, then, method="x")
            accounts.end_session(session, started.session_id, then, "signed out")
            accounts.issue_link(session, account, where.clinic_id, then)
            link = session.scalars(select(MagicLink).where(MagicLink.created_at == then)).one()
            bucket |= {started.session_id, link.id}
    return {"gone": gone, "kept": kept}


def left(db: sessionmaker[Session]) -> set[object]:
    with db() as session:
        return {*session.scalars(select(PortalSession.id)), *session.scalars(select(MagicLink.id))}


def test_purge_forgets_what_is_older_than_90_days(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice
) -> None:
    ids = aged(web, db, where)
    assert ids["gone"] <= left(db)
    with transaction(db) as session:
        assert accounts.purge(session, utcnow()) == 1
    remaining = left(db)
    assert not ids["gone"] & remaining
    assert ids["kept"] <= remaining
    # Today's sign-in still works.
    assert web.get("/portal/north/home").status_code == 200


def test_the_cli_purges_the_portal_logs(
    web: TestClient,
    db: sessionmaker[Session],
    where: linkmaker.Practice,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = aged(web, db, where)
    for name in list(os.environ):
        if name.upper().startswith("CLINICDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLINICDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("CLINICDESK_ENVIRONMENT", "test")
    get_settings.cache_clear()
    try:
        code = main(["purge-portal-logs"])
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert code == 0
    assert "Purged 1 portal session(s)" in out
    remaining = left(db)
    assert not ids["gone"] & remaining
    assert ids["kept"] <= remaining


def test_the_dispatcher_purges_once_a_day(
    web: TestClient, db: sessionmaker[Session], where: linkmaker.Practice, app
) -> None:
    ids = aged(web, db, where)
    database: Database = app.state.database
    clock = [1000.0]
    runs: list[int] = []
    chore = Daily(lambda: runs.append(purge_portal_logs(database)), clock=lambda: clock[0])
    chore()
    assert runs == [1]
    assert not ids["gone"] & left(db)
    clock[0] += 3600
    chore()
    assert runs == [1]  # not again within the day
    clock[0] += 86400
    chore()
    assert runs == [1, 0]

    # The server's dispatcher loop carries it among its chores.
    import httpx

    with httpx.Client() as client:
        dispatcher = make_dispatcher(database, app.state.settings, client)
    assert any(isinstance(c, Daily) for c in dispatcher.chores)


def test_a_failing_daily_chore_waits_a_day_rather_than_retry_every_round() -> None:
    clock = [0.0]
    calls: list[float] = []

    def broken() -> None:
        calls.append(clock[0])
        raise RuntimeError("database away")

    chore = Daily(broken, clock=lambda: clock[0])
    with pytest.raises(RuntimeError):
        chore()
    clock[0] += 5
    chore()
    assert calls == [0.0]
