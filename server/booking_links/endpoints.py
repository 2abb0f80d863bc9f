"""Booking links over the desk's API: the broadcast rules (clinic admins change them; every
staff member reads the active ones for the send menu) and the links of a patient's file.

Every answer about a patient's links is patient data: audited, scoped by the caller's
clinic, and another clinic's patient or link is the same 404 as a missing one.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response

from server.audit import service as audit
from server.booking_links import staff
from server.deps import DatabaseDep, SettingsDep, StaffContext
from server.kit import json_response
from sync.protocol import (
    BookingLinkEventRecord,
    BookingLinkRecord,
    BroadcastRuleRecord,
    SaveBroadcastRule,
    SendBookingLink,
    SentBookingLink,
)

router = APIRouter(tags=["booking links"])

RULES = "/broadcast-rules"
LINKS = "/patients/{patient_id}/booking-links"


# --- broadcast rules --------------------------------------------------------------------


@router.get(RULES, response_model=list[BroadcastRuleRecord])
def list_broadcast_rules(
    ctx: StaffContext, db: DatabaseDep, include_inactive: bool = False
) -> Response:
    """The active rules by title (the send menu); ``include_inactive`` (clinic admins):
    every rule not deleted, for the settings."""
    with db.reading() as session:
        rules = staff.list_rules(session, ctx, include_inactive=include_inactive)
        records = staff.rule_records(session, rules)
    return json_response(records)


@router.post(RULES, response_model=BroadcastRuleRecord, status_code=201)
def create_broadcast_rule(
    body: SaveBroadcastRule, ctx: StaffContext, db: DatabaseDep, settings: SettingsDep
) -> Response:
    with db.writing() as session:
        rule = staff.save_rule(session, ctx, body, base_url=settings.public_base_url)
        [record] = staff.rule_records(session, [rule])
    return json_response(record, status_code=201)


@router.put(f"{RULES}/{{rule_id}}", response_model=BroadcastRuleRecord)
def update_broadcast_rule(
    rule_id: uuid.UUID,
    body: SaveBroadcastRule,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """Replace a rule's settings; links already sent keep what they were sent with."""
    with db.writing() as session:
        rule = staff.save_rule(
            session, ctx, body, base_url=settings.public_base_url, rule_id=rule_id
        )
        [record] = staff.rule_records(session, [rule])
    return json_response(record)


@router.post(f"{RULES}/{{rule_id}}/deactivate", response_model=BroadcastRuleRecord)
def deactivate_broadcast_rule(rule_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """Out of the send menu; links already sent under it still work."""
    with db.writing() as session:
        rule = staff.set_rule_active(session, ctx, rule_id, False)
        [record] = staff.rule_records(session, [rule])
    return json_response(record)


@router.post(f"{RULES}/{{rule_id}}/activate", response_model=BroadcastRuleRecord)
def activate_broadcast_rule(rule_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    with db.writing() as session:
        rule = staff.set_rule_active(session, ctx, rule_id, True)
        [record] = staff.rule_records(session, [rule])
    return json_response(record)


@router.delete(f"{RULES}/{{rule_id}}", status_code=204)
def delete_broadcast_rule(rule_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """Gone from settings and menu (kept underneath for the links sent under it)."""
    with db.writing() as session:
        staff.delete_rule(session, ctx, rule_id)
    return Response(status_code=204)


# --- a patient's links ------------------------------------------------------------------


def _sent(session_answer: staff.Sent, record: BookingLinkRecord) -> SentBookingLink:
    return SentBookingLink(
        link=record,
        url=session_answer.url,
        text=session_answer.text,
        held=session_answer.held,
        notice=staff.sent_notice(session_answer.held),
    )


@router.get(LINKS, response_model=list[BookingLinkRecord])
def list_booking_links(patient_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """The patient's links, newest first, each with its status as true now."""
    with db.reading() as session:
        records = staff.link_records(session, staff.links_of(session, ctx, patient_id))
    audit.read(
        db,
        ctx,
        entity="patients",
        entity_id=patient_id,
        record_count=len(records),
        reason="booking links of the patient's file",
    )
    return json_response(records)


@router.post(LINKS, response_model=SentBookingLink, status_code=201)
def send_booking_link(
    patient_id: uuid.UUID,
    body: SendBookingLink,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """Make a link under the rule and text it to the patient. The answer holds the link's
    address, the one time it is ever given; a second open link under the same rule is a
    409 offering to re-send the first."""
    with db.writing() as session:
        sent = staff.send(session, ctx, patient_id, body.rule_id, base_url=settings.public_base_url)
        [record] = staff.link_records(session, [sent.link])
        answer = _sent(sent, record)
    return json_response(answer, status_code=201)


@router.post(f"{LINKS}/{{link_id}}/resend", response_model=SentBookingLink)
def resend_booking_link(
    patient_id: uuid.UUID,
    link_id: uuid.UUID,
    ctx: StaffContext,
    db: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    """A new address for the same offer, texted again; the old address stops working."""
    with db.writing() as session:
        sent = staff.resend(session, ctx, patient_id, link_id, base_url=settings.public_base_url)
        [record] = staff.link_records(session, [sent.link])
        answer = _sent(sent, record)
    return json_response(answer)


@router.post(f"{LINKS}/{{link_id}}/expire", response_model=BookingLinkRecord)
def expire_booking_link(
    patient_id: uuid.UUID, link_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep
) -> Response:
    """End an open link (the patient booked by phone): it books nothing more."""
    with db.writing() as session:
        [record] = staff.link_records(session, [staff.expire(session, ctx, patient_id, link_id)])
    return json_response(record)


@router.delete(f"{LINKS}/{{link_id}}", response_model=BookingLinkRecord)
def delete_booking_link(
    patient_id: uuid.UUID, link_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep
) -> Response:
    """Marked deleted (kept in the history, never erased) and out of use."""
    with db.writing() as session:
        [record] = staff.link_records(session, [staff.delete(session, ctx, patient_id, link_id)])
    return json_response(record)


@router.get(f"{LINKS}/{{link_id}}/events", response_model=list[BookingLinkEventRecord])
def booking_link_events(
    patient_id: uuid.UUID, link_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep
) -> Response:
    """Everything that happened to the link, oldest first, reschedules included."""
    with db.reading() as session:
        link = staff.link_of(session, ctx, patient_id, link_id)
        records = staff.event_records(session, link)
    audit.read(
        db,
        ctx,
        entity="patients",
        entity_id=patient_id,
        record_count=len(records),
        reason="history of a booking link",
    )
    return json_response(records)
