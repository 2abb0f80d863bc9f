"""``make bench``: the patients' pages.

- Throughput under 50 concurrent clients on loopback, against a real ``clinicdesk serve``
  (one process, the demo clinic on SQLite): the widget's availability page (a week of
  free times, "no preference") and its first page, each beside a bare FastAPI endpoint
  served the same way in the same run (target: at least 0.3 of its requests/s).
- What each patient page costs a phone on its first visit, in real Chromium: bytes
  transferred (headers and bodies, everything the page loads; target 60 KB at most) and
  requests to any other origin (target none).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright
from sqlalchemy import select

import server.models  # noqa: F401  - version stamping
from common.appointments import AppointmentStatus
from common.booking_links import BookingLinkStatus
from server.booking_links.models import BookingLink, BroadcastRule, ManageLink
from server.config import Settings
from server.crypto import configure
from server.db import make_engine, make_sessionmaker, transaction, utcnow
from server.scheduling.models import Appointment, AppointmentType
from server.web.tokens import digest, new_token
from tests.bench.server_bench import Call, _rate, bare_server, bare_work, hammer
from tests.bench.sync_bench import Row, p95
from tests.support.browser import CHROMIUM, FLAGS, PHONE
from tests.support.live_server import seed_demo_database
from tests.support.served import ServeProcess

SLUG = "demo"
PAGE_BUDGET_BYTES = 60 * 1024
RATIO_TARGET = 0.3


def _tokens(database_url: str) -> tuple[str, str, str]:
    """A bookable type of the demo, a booking link and a manage link to open (the raw
    tokens: only their digests are stored)."""
    configure(Settings(database_url=database_url, environment="test"))
    engine = make_engine(database_url)
    link_token, manage_token = new_token(), new_token()
    try:
        with transaction(make_sessionmaker(engine)) as session:
            kind = session.scalars(
                select(AppointmentType).where(AppointmentType.bookable_online.is_(True))
            ).first()
            assert kind is not None
            appointment = session.scalars(
                select(Appointment)
                .where(
                    Appointment.starts_at > utcnow(),
                    Appointment.status == AppointmentStatus.BOOKED,
                )
                .order_by(Appointment.starts_at)
            ).first()
            assert appointment is not None
            rule = BroadcastRule(
                clinic_id=kind.clinic_id,
                title="Follow-up",
                appointment_type_id=kind.id,
                sms_text="Book your follow-up: {link}",
                welcome_text="Choose a time for your follow-up.",
                allow_reschedule=True,
            )
            session.add(rule)
            session.flush()
            today = datetime.now(UTC).date()
            session.add(
                BookingLink(
                    clinic_id=kind.clinic_id,
                    patient_id=appointment.patient_id,
                    rule_id=rule.id,
                    token_hash=digest(link_token),
                    status=BookingLinkStatus.SENT,
                    appointment_type_id=kind.id,
                    first_day=today,
                    last_day=today + timedelta(days=28),
                    expires_at=utcnow() + timedelta(days=14),
                )
            )
            session.add(
                ManageLink(
                    clinic_id=kind.clinic_id,
                    appointment_id=appointment.id,
                    patient_id=appointment.patient_id,
                    token_hash=digest(manage_token),
                    expires_at=appointment.ends_at + timedelta(days=1),
                )
            )
            type_id = str(kind.id)
    finally:
        engine.dispose()
    return type_id, link_token, manage_token


def _get(path: str) -> Call:
    return lambda client: client.get(path)


def load_rows(url: str, bare: float, type_id: str, *, clients: int, seconds: float) -> list[Row]:
    rows: list[Row] = []
    pages = {
        "widget availability (a week, no preference)": (
            f"/book/{SLUG}/times?type={type_id}&provider=any"
        ),
        "widget first page": f"/book/{SLUG}",
    }
    for label, path in pages.items():
        tally = asyncio.run(hammer(url, clients, seconds, lambda _c, _n, p=path: _get(p)))
        rate = _rate(tally, seconds)
        rows.append(Row(f"web, {label}: requests/s", rate, "req/s"))
        rows.append(Row(f"web, {label}: p95", p95(tally.latencies) * 1000, "ms"))
        ratio = rate / bare if bare else 0.0
        rows.append(
            Row(
                f"web, {label}: share of a bare FastAPI endpoint",
                ratio,
                "x",
                f">= {RATIO_TARGET}",
                ratio >= RATIO_TARGET and tally.errors == 0,
            )
        )
    return rows


def weight_rows(url: str, type_id: str, link_token: str, manage_token: str) -> list[Row]:
    """Each page opened by a new phone (nothing cached): bytes over the wire, and any
    request to another origin."""
    start = _first_offered_start(url, type_id)
    pages = {
        "front page": "/",
        "practice page": f"/practice/{SLUG}",
        "widget: type": f"/book/{SLUG}",
        "widget: times": f"/book/{SLUG}/times?type={type_id}&provider=any",
        "widget: details": f"/book/{SLUG}/details?type={type_id}&provider=any&start={start}",
        "enquiry form": f"/enquire/{SLUG}",
        "booking link: welcome": f"/l/{link_token}",
        "booking link: times": f"/l/{link_token}/times",
        "manage link: verify": f"/m/{manage_token}",
        "not found": "/practice/no-such-clinic",
    }
    rows: list[Row] = []
    own = urlsplit(url).netloc
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for label, path in pages.items():
                context = browser.new_context(**PHONE)
                page = context.new_page()
                responses = []
                page.on("requestfinished", lambda request, seen=responses: seen.append(request))
                page.goto(url + path, wait_until="load")
                total, elsewhere = 0, 0
                for request in responses:
                    sizes = request.sizes()
                    total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
                    elsewhere += urlsplit(request.url).netloc != own
                context.close()
                kb = total / 1024
                rows.append(
                    Row(
                        f"web page weight, {label}",
                        kb,
                        "KB",
                        "<= 60",
                        total <= PAGE_BUDGET_BYTES and elsewhere == 0,
                    )
                )
                if elsewhere:
                    rows.append(Row(f"web page, {label}: other origins", elsewhere, "", "0", False))
        finally:
            browser.close()
    return rows


def _first_offered_start(url: str, type_id: str) -> str:
    """A start time the widget offers (read off its times page)."""
    import httpx

    page = httpx.get(f"{url}/book/{SLUG}/times", params={"type": type_id, "provider": "any"})
    marker = 'name="start" value="'
    if marker not in page.text:
        return (utcnow() + timedelta(days=2)).isoformat()
    return page.text.split(marker)[1].split('"')[0]


def rows(work: Path, *, clients: int = 50, seconds: float = 20.0) -> list[Row]:
    path = work / "web.sqlite3"
    seed_demo_database(path)
    database_url = f"sqlite:///{path}"
    type_id, link_token, manage_token = _tokens(database_url)
    with bare_server(work, 1) as bare_url:
        bare = _rate(asyncio.run(hammer(bare_url, clients, seconds, bare_work)), seconds)
    found = [Row("web, bare FastAPI endpoint: requests/s", bare, "req/s")]
    with ServeProcess(database_url, work / "web.log") as served:
        found += load_rows(served.url, bare, type_id, clients=clients, seconds=seconds)
        found += weight_rows(served.url, type_id, link_token, manage_token)
    return found


__all__ = ["rows"]
