"""The portal's Messages: what the clinic sent the holder and the family members on their
account, and what they sent the clinic, newest first.

The same rows the desk's inbox shows (``Message``), so both sides read one history;
links inside them are masked there already. Notes the desk keeps for itself (no channel)
and the portal's own sign-in e-mails are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from common.messaging import Channel, Direction
from server.audit import service as audit
from server.booking_links.patient import short_when
from server.deps import DatabaseDep
from server.messaging.models import Message
from server.portal.viewer import Person, PortalViewer
from server.scheduling.service import clinic_zone
from server.web.pages import READ, WebRoute, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

SHOWN = 50
LEFT_OUT = ("portal_sign_in",)


@dataclass(frozen=True)
class Shown:
    person: Person
    incoming: bool
    when: str
    channels: str
    subject: str
    body: str


@router.api_route("/portal/{slug}/messages", methods=READ, response_class=HTMLResponse)
def messages(slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer) -> Response:
    people = {p.patient_id: p for p in viewer.people}
    with db.reading() as session:
        zone = clinic_zone(session, viewer.clinic_id)
        rows = list(
            session.scalars(
                select(Message)
                .where(
                    Message.clinic_id == viewer.clinic_id,
                    Message.patient_id.in_(list(people)),
                    Message.deleted_at.is_(None),
                    Message.kind.not_in(LEFT_OUT),
                )
                .order_by(Message.due_at.desc())
                .limit(SHOWN * 2)
            )
        )
    shown = [
        Shown(
            person=people[row.patient_id],
            incoming=row.direction is Direction.IN,
            when=short_when(row.due_at, zone),
            channels=", ".join(Channel(c).label for c in row.channels),
            subject=row.subject,
            body=row.body,
        )
        for row in rows
        if row.channels and row.patient_id in people
    ][:SHOWN]
    audit.read(
        db,
        viewer.ctx(),
        entity="messages",
        record_count=len(shown),
        reason=f"messages, read by {viewer.actor()}",
    )
    return render(
        request,
        "portal/messages.html",
        {"viewer": viewer, "section": "messages", "shown": shown},
        brand=viewer.brand,
        private=True,
    )
