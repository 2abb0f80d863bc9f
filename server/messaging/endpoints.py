"""Staff endpoints of messaging: the clinic's messaging settings, and the development
outbox (what a development or test server "sent"; absent in production)."""

from __future__ import annotations

from datetime import time
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from common.errors import InvalidInput, NotFound
from common.roles import Permission
from server.audit import service as audit
from server.clinics.models import Clinic
from server.deps import DatabaseDep, SettingsDep, StaffContext
from server.kit import json_response
from server.messaging import service
from server.messaging.models import DevOutboxEntry, MessagingSettings
from sync.protocol import DevOutboxItem, MessagingSettingsBody

router = APIRouter(tags=["messaging"])


def _minute(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


def _body(found: MessagingSettings) -> MessagingSettingsBody:
    return MessagingSettingsBody(
        sender_name=found.sender_name,
        phone=found.phone,
        email=found.email,
        sms_number=found.sms_number,
        language=found.language,
        texts_from=_clock(found.texts_from_minute),
        texts_until=_clock(found.texts_until_minute),
        marketing_cap=found.marketing_cap,
        marketing_cap_days=found.marketing_cap_days,
        send_confirmations=found.send_confirmations,
    )


@router.get("/messaging/settings", response_model=MessagingSettingsBody)
def get_messaging_settings(ctx: StaffContext, db: DatabaseDep) -> Response:
    with db.reading() as session:
        return json_response(_body(service.settings_of(session, ctx.clinic_id)))


@router.put("/messaging/settings", response_model=MessagingSettingsBody)
def put_messaging_settings(
    body: MessagingSettingsBody, ctx: StaffContext, db: DatabaseDep
) -> Response:
    """Clinic admins only. Texts must be allowed for some part of the day."""
    ctx.require(Permission.COMMS_MANAGE_TEMPLATES)
    if body.texts_from >= body.texts_until:
        raise InvalidInput(
            "Texts must be allowed for part of the day: the time they may start "
            f"({body.texts_from:%H:%M}) must be before the time they must stop "
            f"({body.texts_until:%H:%M})."
        )
    with db.writing() as session:
        if body.sms_number and session.scalar(
            select(MessagingSettings.id).where(
                MessagingSettings.sms_number == body.sms_number,
                MessagingSettings.clinic_id != ctx.clinic_id,
            )
        ):
            # Replies to a number reach one clinic: two clinics texting from it would read
            # each other's patients' answers (and STOPs).
            raise InvalidInput(
                f"{body.sms_number} is already the texting number of another clinic on this "
                "server. Each clinic needs a number of its own; ask whoever runs the server."
            )
        found = session.scalar(
            select(MessagingSettings)
            .where(MessagingSettings.clinic_id == ctx.clinic_id)
            .with_for_update()
        )
        if found is None:
            found = service.settings_of(session, ctx.clinic_id)
            session.add(found)
        found.sender_name = body.sender_name.strip()
        found.phone = body.phone.strip()
        found.email = body.email.strip()
        found.sms_number = body.sms_number
        found.language = body.language
        found.texts_from_minute = _minute(body.texts_from)
        found.texts_until_minute = _minute(body.texts_until)
        found.marketing_cap = body.marketing_cap
        found.marketing_cap_days = body.marketing_cap_days
        found.send_confirmations = body.send_confirmations
        session.flush()
        answer = _body(found)
    return json_response(answer)


@router.get("/messaging/dev-outbox", response_model=list[DevOutboxItem])
def dev_outbox(
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """The newest messages the development outbox took, newest first."""
    if settings.environment == "production":
        raise NotFound("A production server sends through real providers: it has no outbox.")
    ctx.require(Permission.COMMS_VIEW_INBOX)
    with db.reading() as session:
        rows = session.scalars(
            select(DevOutboxEntry)
            .where(DevOutboxEntry.clinic_id == ctx.clinic_id)
            .order_by(DevOutboxEntry.sent_at.desc())
            .limit(limit)
        ).all()
        items = [DevOutboxItem.model_validate(row, from_attributes=True) for row in rows]
    audit.read(db, ctx, entity="messages", record_count=len(items), reason="development outbox")
    return json_response(items)


# --- the development outbox as a page ---------------------------------------------------

dev_router = APIRouter(tags=["development"], include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Development outbox</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; vertical-align: top; padding: .4rem .6rem; }}
tr {{ border-bottom: 1px solid #ddd; }}
td.text {{ white-space: pre-wrap; max-width: 40rem; }}
</style></head><body>
<h1>Development outbox</h1>
<p>What this server would have sent, newest first. Nothing here left the machine: set
<code>CLINICDESK_SMS_PROVIDER</code> and <code>CLINICDESK_EMAIL_PROVIDER</code> to send.</p>
<table><thead><tr><th>When (UTC)</th><th>Clinic</th><th>Channel</th><th>To</th>
<th>From</th><th>Subject</th><th>Text</th><th>Attachments</th></tr></thead>
<tbody>{rows}</tbody></table></body></html>"""


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dev_router.get("/dev/outbox", response_class=HTMLResponse)
def dev_outbox_page(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> HTMLResponse:
    """Development and test servers only, and only to a browser on the server's own
    machine (it shows every clinic's messages, without a sign-in): a production server,
    or anyone else, finds nothing here."""
    client = request.client.host if request.client else ""
    if settings.environment == "production" or client not in LOOPBACK:
        raise NotFound("There is nothing at this address.")
    with db.reading() as session:
        found = session.execute(
            select(DevOutboxEntry, Clinic.slug)
            .join(Clinic, Clinic.id == DevOutboxEntry.clinic_id)
            .order_by(DevOutboxEntry.sent_at.desc())
            .limit(limit)
        ).all()
        rows = "".join(
            "<tr>"
            + "".join(
                f'<td class="{name}">{escape(value)}</td>'
                for name, value in (
                    ("when", f"{entry.sent_at:%Y-%m-%d %H:%M:%S}"),
                    ("clinic", slug),
                    ("channel", entry.channel.label),
                    ("to", entry.to_address),
                    ("from", entry.sender_name),
                    ("subject", entry.subject),
                    ("text", entry.text),
                    ("attachments", ", ".join(entry.attachments)),
                )
            )
            + "</tr>"
            for entry, slug in found
        )
    return HTMLResponse(PAGE.format(rows=rows or '<tr><td colspan="8">Nothing yet.</td></tr>'))
