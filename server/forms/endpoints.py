"""The desk's side of forms: the builder (admins), a form's answers on the patient file,
withdrawing a form, and the clinic's video room address.

Online only: the forms sent are synced (``form_requests``, without answers) so the desk
lists them offline; the answers are read here, each read audited.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common import forms as rules
from common.errors import NotFound
from common.roles import Permission
from common.video import DEFAULT_ROOM_TEMPLATE, check_room_template
from server import kit
from server.audit import service as audit
from server.deps import DatabaseDep, StaffContext
from server.forms import service
from server.forms.models import FormRequest, FormTemplate
from server.portal.models import PortalAccount
from server.scheduling.service import clinic_zone
from server.staff.models import StaffUser
from server.web.models import PracticeProfile
from sync.protocol import (
    FormAnswerRecord,
    FormQuestionBody,
    FormRequestRecord,
    FormResponseRecord,
    FormsSettingsRecord,
    FormTemplateRecord,
    SaveFormTemplate,
)

router = APIRouter(tags=["forms"])


def _record(session: Session, template: FormTemplate) -> FormTemplateRecord:
    version = service.version_of(session, template.clinic_id, template.id, template.current_version)
    sent = session.scalar(
        select(func.count()).where(
            FormRequest.clinic_id == template.clinic_id, FormRequest.template_id == template.id
        )
    )
    return FormTemplateRecord(
        id=template.id,
        title=template.title,
        kind=template.kind,
        appointment_type_ids=[uuid.UUID(t) for t in template.appointment_type_ids or []],
        active=template.active,
        version=template.current_version,
        questions=[FormQuestionBody(**q) for q in version.questions] if version else [],
        published_at=version.published_at if version else None,
        sent=sent or 0,
    )


def _draft(body: SaveFormTemplate) -> service.Draft:
    return service.Draft(
        title=body.title,
        kind=body.kind,
        appointment_type_ids=body.appointment_type_ids,
        active=body.active,
        questions=[q.model_dump() for q in body.questions],
    )


@router.get("/forms", response_model=list[FormTemplateRecord])
def list_forms(ctx: StaffContext, db: DatabaseDep) -> Response:
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        records = [_record(session, t) for t in service.templates_of(session, ctx.clinic_id)]
    return kit.json_response(records)


@router.post("/forms", response_model=FormTemplateRecord, status_code=201)
def create_form(body: SaveFormTemplate, ctx: StaffContext, db: DatabaseDep) -> Response:
    with db.writing() as session:
        template = service.save_template(session, ctx, _draft(body))
        record = _record(session, template)
    return kit.json_response(record, status_code=201)


@router.put("/forms/{template_id}", response_model=FormTemplateRecord)
def save_form(
    template_id: uuid.UUID, body: SaveFormTemplate, ctx: StaffContext, db: DatabaseDep
) -> Response:
    with db.writing() as session:
        template = service.save_template(
            session, ctx, _draft(body), template_id=template_id, base_version=body.base_version
        )
        record = _record(session, template)
    return kit.json_response(record)


def _completed_by(session: Session, opened: service.Opened) -> str:
    if opened.completed_by_staff_id is not None:
        staff = session.get(StaffUser, opened.completed_by_staff_id)
        return f"{staff.display_name} (staff)" if staff else "staff"
    if opened.completed_by_account_id is not None:
        account = session.get(PortalAccount, opened.completed_by_account_id)
        return f"the patient's portal account ({account.email})" if account else "the patient"
    return ""


@router.get("/form-requests/{request_id}", response_model=FormResponseRecord)
def read_form(request_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    """A form sent to a patient: the questions it was answered under, and the answers."""
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        request = kit.find(session, FormRequest, ctx.clinic_id, request_id)
        if request is None:
            raise kit.not_found("form")
        opened = service.open_form(session, request)
        zone = clinic_zone(session, ctx.clinic_id)
        record = FormResponseRecord(
            request=FormRequestRecord.model_validate(request, from_attributes=True),
            version=opened.version.number,
            answers=[
                FormAnswerRecord(
                    question_id=q.id,
                    label=q.label,
                    kind=q.kind.value,
                    answer=rules.shown(q, opened.answers.get(q.id), zone),
                )
                for q in opened.form.questions
            ],
            completed_by=_completed_by(session, opened),
        )
        patient_id = request.patient_id
    audit.read(
        db,
        ctx,
        entity="form_requests",
        entity_id=request_id,
        reason=f"answers of a form of patient {patient_id}",
    )
    return kit.json_response(record)


@router.post("/form-requests/{request_id}/withdraw", response_model=FormRequestRecord)
def withdraw_form(request_id: uuid.UUID, ctx: StaffContext, db: DatabaseDep) -> Response:
    with db.writing() as session:
        request = service.withdraw(session, ctx, request_id)
        record = FormRequestRecord.model_validate(request, from_attributes=True)
    return kit.json_response(record)


def _profile(session: Session, clinic_id: uuid.UUID) -> PracticeProfile | None:
    return session.scalar(select(PracticeProfile).where(PracticeProfile.clinic_id == clinic_id))


@router.get("/forms-settings", response_model=FormsSettingsRecord)
def forms_settings(ctx: StaffContext, db: DatabaseDep) -> Response:
    ctx.require(Permission.PATIENTS_READ)
    with db.reading() as session:
        profile = _profile(session, ctx.clinic_id)
        template = profile.video_room_template if profile else ""
    return kit.json_response(
        FormsSettingsRecord(
            video_room_template=template, default_video_room_template=DEFAULT_ROOM_TEMPLATE
        )
    )


@router.put("/forms-settings", response_model=FormsSettingsRecord)
def save_forms_settings(body: FormsSettingsRecord, ctx: StaffContext, db: DatabaseDep) -> Response:
    """Where video consultations take place. Rooms already made keep their address."""
    ctx.require(Permission.SETTINGS_MANAGE)
    template = check_room_template(body.video_room_template)
    with db.writing() as session:
        profile = _profile(session, ctx.clinic_id)
        if profile is None:
            raise NotFound(
                "This clinic has no practice page yet: set it up under Settings → Practice "
                "page first, then the video room address."
            )
        profile.video_room_template = template
        audit.record(
            session, ctx, action="save", entity="practice_profiles", reason="video room address"
        )
    return kit.json_response(
        FormsSettingsRecord(
            video_room_template=template, default_video_room_template=DEFAULT_ROOM_TEMPLATE
        )
    )
