"""The portal's home page: who is signed in, the forms the clinic waits for, their next
appointments, and the way to everything else."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from server.audit import service as audit
from server.db import utcnow
from server.deps import DatabaseDep
from server.portal import appointments, bills_web, forms
from server.portal.viewer import PortalViewer
from server.web.pages import READ, WebRoute, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.api_route("/portal/{slug}/home", methods=READ, response_class=HTMLResponse)
def home(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, welcome: str | None = None
) -> Response:
    with db.reading() as session:
        upcoming = [
            v for v in appointments.visits(session, viewer, utcnow(), limit=5) if not v.cancelled
        ]
        waiting = forms.listed(session, viewer, open_only=True)
        bills_to_pay = bills_web.count_to_pay(session, viewer)
    audit.read(
        db,
        viewer.ctx(),
        entity="appointments",
        record_count=len(upcoming),
        reason=f"next appointments, read by {viewer.actor()}",
    )
    if waiting:  # none shown, nothing of anyone's read
        audit.read(
            db,
            viewer.ctx(),
            entity="form_requests",
            record_count=len(waiting),
            reason=f"forms to fill in, read by {viewer.actor()}",
        )
    if bills_to_pay:
        audit.read(
            db,
            viewer.ctx(),
            entity="invoices",
            record_count=bills_to_pay,
            reason=f"bills to pay counted for the home page, read by {viewer.actor()}",
        )
    return render(
        request,
        "portal/home.html",
        {
            "viewer": viewer,
            "section": "home",
            "upcoming": upcoming,
            "waiting": waiting,
            "welcome": welcome == "1",
            "bills_to_pay": bills_to_pay,
        },
        brand=viewer.brand,
        private=True,
    )
