"""The desk's HTTP client for the server API.

Every failure leaves here as a ``DomainError`` whose message a receptionist can act on:
a bad address, a server that does not answer, wrong credentials, an expired enrollment.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, RootModel, ValidationError

from common.booking_requests import BookingRequestStatus, check_reason
from common.content import check_pdf
from common.errors import DomainError, InvalidInput, SlotTaken, TooManyAttempts, error_from_code
from common.leads import LeadStatus, check_note
from common.treatment import check_note as check_progress_note
from common.treatment import check_phases, check_photo, check_title
from common.video import DEFAULT_ROOM_TEMPLATE
from sync.protocol import (
    API_PREFIX,
    DEVICE_TOKEN_HEADER,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    SCHEMA_HEADER,
    AppointmentRecord,
    BookingLinkEventRecord,
    BookingLinkRecord,
    BookingRequestRecord,
    BroadcastRuleRecord,
    BulkInviteResult,
    ChangesPage,
    ConfirmBookingRequest,
    ConfirmedRequest,
    ContentItemRecord,
    ConvertedLead,
    ConvertLead,
    Cursor,
    EnrollRequest,
    EnrollResponse,
    ErrorBody,
    FormRequestRecord,
    FormResponseRecord,
    FormsSettingsRecord,
    FormTemplateRecord,
    ImpersonationTicket,
    InviteCandidatesRecord,
    InvoiceAppointmentBody,
    InvoiceRecord,
    LeadDuplicate,
    LeadNoteBody,
    LeadRecord,
    LockoutInfo,
    LockoutList,
    MessagingSettingsBody,
    Mutation,
    NewInvoice,
    NewProgressNote,
    NewTreatmentPlan,
    PatientBillsRecord,
    PatientFields,
    PatientMatch,
    PatientPortalRecord,
    PatientTreatmentRecord,
    PhaseMoved,
    PortalInviteRecord,
    PracticeProfileBody,
    PracticeProfileFields,
    PreviewLink,
    ProgressNoteRecord,
    ProgressPhotoRecord,
    PushRequest,
    PushResponse,
    RecordPaymentBody,
    RejectBookingRequest,
    SaveBroadcastRule,
    SaveContentItem,
    SaveFormTemplate,
    SavePrices,
    SendBookingLink,
    SentBookingLink,
    SetCurrentPhase,
    SignInRequest,
    SignInResponse,
    Slot,
    SlotTakenBody,
    StaffMemberRecord,
    TypePriceRecord,
    VoidInvoiceBody,
    WorkstationRecord,
    b64,
)
from sync.schema import SCHEMA_VERSION

M = TypeVar("M", bound=BaseModel)


class _AppointmentList(RootModel[list[AppointmentRecord]]):
    pass


class _Workstations(RootModel[list[WorkstationRecord]]):
    pass


class _StaffList(RootModel[list[StaffMemberRecord]]):
    pass


class _BookingRequests(RootModel[list[BookingRequestRecord]]):
    pass


class _Rules(RootModel[list[BroadcastRuleRecord]]):
    pass


class _Links(RootModel[list[BookingLinkRecord]]):
    pass


class _LinkEvents(RootModel[list[BookingLinkEventRecord]]):
    pass


class _Leads(RootModel[list[LeadRecord]]):
    pass


class _LeadDuplicates(RootModel[list[LeadDuplicate]]):
    pass


class _PatientMatches(RootModel[list[PatientMatch]]):
    pass


class _PortalInvites(RootModel[list[PortalInviteRecord]]):
    pass


class _Forms(RootModel[list[FormTemplateRecord]]):
    pass


class _ContentItems(RootModel[list[ContentItemRecord]]):
    pass


class _Prices(RootModel[list[TypePriceRecord]]):
    pass


TIMEOUT = httpx.Timeout(20.0, connect=5.0)


class ServerUnreachable(DomainError):
    status = 503
    code = "server_unreachable"


class NotAClinicdeskServer(DomainError):
    status = 502
    code = "not_clinicdesk"


class TimeTaken(SlotTaken):
    """A 409 ``slot_taken`` with the nearest free times as the server named them, each
    with its provider (what staff may choose instead)."""

    def __init__(self, message: str, slots: list[Slot]) -> None:
        super().__init__(message, [(s.starts_at, s.ends_at) for s in slots])
        self.slots = slots


def normalise_server_url(text: str) -> str:
    """``clinic.example.com`` → ``https://clinic.example.com``; nonsense is refused."""
    candidate = text.strip()
    if candidate and "://" not in candidate:
        candidate = "https://" + candidate
    try:
        parts = urlsplit(candidate)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or " " in candidate
        or parts.query
        or parts.fragment
    ):
        raise InvalidInput(
            f"{text.strip() or 'An empty address'!r} is not a server address. "
            "Use the form https://clinic.example.com (or http://127.0.0.1:8765 for the demo)."
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    host += f":{port}" if port else ""
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


class ServerClient:
    def __init__(
        self,
        server_url: str,
        *,
        device_token: str | None = None,
        session_token: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server_url = normalise_server_url(server_url)
        self.device_token = device_token
        self.session_token = session_token
        # Called (on the calling thread) after any request the server answered well: the
        # desk's sign that the server is reachable, whatever asked.
        self.answered: Callable[[], None] | None = None
        self._http = httpx.Client(
            base_url=self.server_url + API_PREFIX,
            timeout=TIMEOUT,
            transport=transport,
            headers={PROTOCOL_HEADER: str(PROTOCOL_VERSION), SCHEMA_HEADER: str(SCHEMA_VERSION)},
        )

    def close(self) -> None:
        self._http.close()

    # --- calls --------------------------------------------------------------------------

    def enroll(self, clinic: str, email: str, password: str, device_name: str) -> EnrollResponse:
        body = _valid(
            EnrollRequest,
            clinic=clinic.strip().lower(),
            email=email.strip(),
            password=password,
            device_name=device_name,
        )
        return self._call("POST", "/devices", EnrollResponse, json=body.model_dump())

    def sign_in(
        self, email: str, password: str, signing_key: bytes | None = None
    ) -> SignInResponse:
        """Sign a staff member in; ``signing_key`` is the public key they will sign their
        changes with on this workstation (registered with the session)."""
        body = _valid(
            SignInRequest,
            email=email.strip(),
            password=password,
            signing_key=b64(signing_key) if signing_key else None,
        )
        return self._call("POST", "/sessions", SignInResponse, json=body.model_dump())

    def sign_out(self) -> None:
        """End this session on the server (its signing key stays valid for the changes
        already made under it)."""
        self._send("DELETE", "/sessions/current")

    def changes(
        self,
        cursor: Cursor,
        limit: int | None = None,
        window: tuple[datetime, datetime] | None = None,
    ) -> ChangesPage:
        params: dict[str, str | int] = {"cursor": str(cursor)}
        if limit is not None:
            params["limit"] = limit
        if window is not None:
            params["window_start"], params["window_end"] = (w.isoformat() for w in window)
        return self._call("GET", "/sync/changes", ChangesPage, params=params)

    def appointments(self, start: datetime, end: datetime) -> list[AppointmentRecord]:
        """Appointments overlapping ``[start, end)``: days outside the desk's window."""
        params = {"start": start.isoformat(), "end": end.isoformat()}
        return self._call("GET", "/sync/appointments", _AppointmentList, params=params).root

    def push(self, mutations: list[Mutation]) -> PushResponse:
        body = PushRequest(mutations=mutations)
        return self._call(
            "POST",
            "/sync/mutations",
            PushResponse,
            content=body.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )

    # --- a clinic admin's workstations and staff -----------------------------------------

    def workstations(self) -> list[WorkstationRecord]:
        return self._call("GET", "/workstations", _Workstations).root

    def lockouts(self) -> list[LockoutInfo]:
        return self._call("GET", "/sign-in-lockouts", LockoutList).lockouts

    def staff(self) -> list[StaffMemberRecord]:
        return self._call("GET", "/staff", _StaffList).root

    def revoke_workstation(self, device_id: uuid.UUID) -> WorkstationRecord:
        return self._call("POST", f"/workstations/{device_id}/revoke", WorkstationRecord)

    def end_sign_in(self, session_id: uuid.UUID) -> None:
        self._send("POST", f"/sign-ins/{session_id}/revoke")

    def set_staff_active(self, staff_id: uuid.UUID, active: bool) -> StaffMemberRecord:
        action = "reactivate" if active else "deactivate"
        return self._call("POST", f"/staff/{staff_id}/{action}", StaffMemberRecord)

    # --- how the clinic sends messages (clinic admins change it; online only) ----------

    def messaging_settings(self) -> MessagingSettingsBody:
        return self._call("GET", "/messaging/settings", MessagingSettingsBody)

    def save_messaging_settings(self, body: MessagingSettingsBody) -> MessagingSettingsBody:
        """Replace the clinic's messaging settings; the answer is what the server kept."""
        return self._call(
            "PUT", "/messaging/settings", MessagingSettingsBody, json=body.model_dump(mode="json")
        )

    # --- the practice page (clinic admins change it; online only) -----------------------

    def practice_profile(self) -> PracticeProfileBody:
        """The clinic's public profile, or the defaults a new one starts from."""
        return self._call("GET", "/practice-profile", PracticeProfileBody)

    def save_practice_profile(self, fields: PracticeProfileFields) -> PracticeProfileBody:
        """Replace the profile; the answer is what the server kept."""
        return self._call(
            "PUT", "/practice-profile", PracticeProfileBody, json=fields.model_dump(mode="json")
        )

    def upload_practice_logo(self, image: bytes) -> PracticeProfileBody:
        """A PNG or JPEG, sent as it is (the server checks what it really is)."""
        return self._call(
            "PUT",
            "/practice-profile/logo",
            PracticeProfileBody,
            headers={"Content-Type": "application/octet-stream"},
            content=image,
        )

    def remove_practice_logo(self) -> PracticeProfileBody:
        return self._call("DELETE", "/practice-profile/logo", PracticeProfileBody)

    def practice_preview_link(self) -> PreviewLink:
        return self._call("POST", "/practice-profile/preview-link", PreviewLink)

    # --- web booking requests (listed live, never cached) -------------------------------

    def booking_requests(
        self, status: BookingRequestStatus = BookingRequestStatus.PENDING
    ) -> list[BookingRequestRecord]:
        params = {"status": status.value}
        return self._call("GET", "/booking-requests", _BookingRequests, params=params).root

    def confirm_booking_request(
        self,
        request_id: uuid.UUID,
        instead: Slot | None = None,
        *,
        patient_id: uuid.UUID | None = None,
        new_patient: PatientFields | None = None,
    ) -> ConfirmedRequest:
        """Book the request as asked, or at ``instead`` (its start and provider; the
        request keeps its length). A taken time raises ``TimeTaken`` with free times.
        A request from someone not yet a patient names the patient on file
        (``patient_id``) or the new patient to register (``new_patient``)."""
        body = None
        if instead is not None or patient_id is not None or new_patient is not None:
            chosen = ConfirmBookingRequest(
                starts_at=instead.starts_at if instead else None,
                provider_id=instead.provider_id if instead else None,
                patient_id=patient_id,
                new_patient=new_patient,
            )
            body = chosen.model_dump(mode="json", exclude_none=True)
        path = f"/booking-requests/{request_id}/confirm"
        return self._call("POST", path, ConfirmedRequest, json=body)

    def booking_request_matches(self, request_id: uuid.UUID) -> list[PatientMatch]:
        """Patients on file who may be the request's applicant."""
        path = f"/booking-requests/{request_id}/matches"
        return self._call("GET", path, _PatientMatches).root

    def reject_booking_request(self, request_id: uuid.UUID, reason: str) -> BookingRequestRecord:
        body = _valid(RejectBookingRequest, reason=check_reason(reason))
        path = f"/booking-requests/{request_id}/reject"
        return self._call("POST", path, BookingRequestRecord, json=body.model_dump())

    # --- booking links: broadcast rules and a patient's links (online only) -------------

    def broadcast_rules(self, *, include_inactive: bool = False) -> list[BroadcastRuleRecord]:
        """The active rules (the send menu); with ``include_inactive`` (clinic admins)
        every rule, for the settings."""
        params = {"include_inactive": "true"} if include_inactive else {}
        return self._call("GET", "/broadcast-rules", _Rules, params=params).root

    def save_broadcast_rule(
        self, body: SaveBroadcastRule, rule_id: uuid.UUID | None = None
    ) -> BroadcastRuleRecord:
        """Create a rule, or replace ``rule_id``'s settings."""
        if rule_id is None:
            return self._call(
                "POST", "/broadcast-rules", BroadcastRuleRecord, json=body.model_dump(mode="json")
            )
        path = f"/broadcast-rules/{rule_id}"
        return self._call("PUT", path, BroadcastRuleRecord, json=body.model_dump(mode="json"))

    def set_broadcast_rule_active(self, rule_id: uuid.UUID, active: bool) -> BroadcastRuleRecord:
        action = "activate" if active else "deactivate"
        return self._call("POST", f"/broadcast-rules/{rule_id}/{action}", BroadcastRuleRecord)

    def delete_broadcast_rule(self, rule_id: uuid.UUID) -> None:
        self._send("DELETE", f"/broadcast-rules/{rule_id}")

    def booking_links(self, patient_id: uuid.UUID) -> list[BookingLinkRecord]:
        """The patient's links, newest first, with their status as true now."""
        return self._call("GET", f"/patients/{patient_id}/booking-links", _Links).root

    def send_booking_link(self, patient_id: uuid.UUID, rule_id: uuid.UUID) -> SentBookingLink:
        """A new link texted to the patient; the answer is the only place its address
        appears. An open one under the same rule is refused (``Conflict``)."""
        body = SendBookingLink(rule_id=rule_id).model_dump(mode="json")
        path = f"/patients/{patient_id}/booking-links"
        return self._call("POST", path, SentBookingLink, json=body)

    def resend_booking_link(self, patient_id: uuid.UUID, link_id: uuid.UUID) -> SentBookingLink:
        path = f"/patients/{patient_id}/booking-links/{link_id}/resend"
        return self._call("POST", path, SentBookingLink)

    def expire_booking_link(self, patient_id: uuid.UUID, link_id: uuid.UUID) -> BookingLinkRecord:
        path = f"/patients/{patient_id}/booking-links/{link_id}/expire"
        return self._call("POST", path, BookingLinkRecord)

    def delete_booking_link(self, patient_id: uuid.UUID, link_id: uuid.UUID) -> BookingLinkRecord:
        path = f"/patients/{patient_id}/booking-links/{link_id}"
        return self._call("DELETE", path, BookingLinkRecord)

    def booking_link_events(
        self, patient_id: uuid.UUID, link_id: uuid.UUID
    ) -> list[BookingLinkEventRecord]:
        path = f"/patients/{patient_id}/booking-links/{link_id}/events"
        return self._call("GET", path, _LinkEvents).root

    # --- leads: enquiries from the public form (listed live, never cached) -------------

    def leads(self, status: LeadStatus | None = None) -> list[LeadRecord]:
        """Newest first; every status but spam when ``status`` is None."""
        params = {"status": status.value} if status is not None else {}
        return self._call("GET", "/leads", _Leads, params=params).root

    def lead_duplicates(self, lead_id: uuid.UUID) -> list[LeadDuplicate]:
        return self._call("GET", f"/leads/{lead_id}/duplicates", _LeadDuplicates).root

    def add_lead_note(self, lead_id: uuid.UUID, text: str) -> LeadRecord:
        body = _valid(LeadNoteBody, text=check_note(text))
        return self._call("POST", f"/leads/{lead_id}/notes", LeadRecord, json=body.model_dump())

    def mark_lead_contacted(self, lead_id: uuid.UUID, note: str = "") -> LeadRecord:
        body = _valid(LeadNoteBody, text=check_note(note, required=False))
        path = f"/leads/{lead_id}/contacted"
        return self._call("POST", path, LeadRecord, json=body.model_dump())

    def discard_lead(self, lead_id: uuid.UUID, note: str) -> LeadRecord:
        """Discard with the note saying why (required)."""
        body = _valid(LeadNoteBody, text=check_note(note))
        path = f"/leads/{lead_id}/discard"
        return self._call("POST", path, LeadRecord, json=body.model_dump())

    def convert_lead(
        self, lead_id: uuid.UUID, patient_id: uuid.UUID | None = None
    ) -> ConvertedLead:
        """Link the lead to ``patient_id``, or register a new patient from it."""
        body = ConvertLead(patient_id=patient_id).model_dump(mode="json")
        return self._call("POST", f"/leads/{lead_id}/convert", ConvertedLead, json=body)

    # --- the patient portal (online only: nothing of it is kept on the desk) -----------

    def patient_portal(self, patient_id: uuid.UUID) -> PatientPortalRecord:
        """The portal as the patient's file shows it (their shared profile only while
        they share it with this clinic)."""
        return self._call("GET", f"/patients/{patient_id}/portal", PatientPortalRecord)

    def invite_to_portal(self, patient_id: uuid.UUID) -> PortalInviteRecord:
        """Invite one patient; an address on another file too is refused (``Conflict``),
        a patient without a usable address too (``InvalidInput``)."""
        path = f"/patients/{patient_id}/portal/invite"
        return self._call("POST", path, PortalInviteRecord)

    def withdraw_portal_invite(self, invite_id: uuid.UUID) -> PortalInviteRecord:
        path = f"/portal/invites/{invite_id}/withdraw"
        return self._call("POST", path, PortalInviteRecord)

    def portal_invites(self, patient_id: uuid.UUID | None = None) -> list[PortalInviteRecord]:
        """Invitations, newest first (one patient's with ``patient_id``)."""
        params = {"patient_id": str(patient_id)} if patient_id is not None else {}
        return self._call("GET", "/portal/invites", _PortalInvites, params=params).root

    def portal_invite_candidates(self) -> InviteCandidatesRecord:
        return self._call("GET", "/portal/invite-candidates", InviteCandidatesRecord)

    def invite_everyone_to_portal(self) -> BulkInviteResult:
        """Send the invitations ``portal_invite_candidates`` counted."""
        return self._call("POST", "/portal/invites/bulk", BulkInviteResult)

    def impersonate_patient(self, patient_id: uuid.UUID) -> ImpersonationTicket:
        """A one-time address opening the portal as the patient (for two minutes)."""
        path = f"/patients/{patient_id}/portal/impersonate"
        return self._call("POST", path, ImpersonationTicket)

    # --- clinic forms and video consultations (online only; the forms sent are synced) --

    def forms(self) -> list[FormTemplateRecord]:
        """The clinic's forms with their current questions, those in use first."""
        return self._call("GET", "/forms", _Forms).root

    def create_form(self, body: SaveFormTemplate) -> FormTemplateRecord:
        """A new form, published as version 1."""
        return self._call("POST", "/forms", FormTemplateRecord, json=body.model_dump(mode="json"))

    def save_form(self, template_id: uuid.UUID, body: SaveFormTemplate) -> FormTemplateRecord:
        """Changed questions or title publish a new version; a form published by someone
        else since ``body.base_version`` is refused (``StaleVersion``), not overwritten."""
        path = f"/forms/{template_id}"
        return self._call("PUT", path, FormTemplateRecord, json=body.model_dump(mode="json"))

    def form_answers(self, request_id: uuid.UUID) -> FormResponseRecord:
        """A form sent to a patient: the questions it was answered under and the answers
        (the server records who read them)."""
        return self._call("GET", f"/form-requests/{request_id}", FormResponseRecord)

    def withdraw_form(self, request_id: uuid.UUID) -> FormRequestRecord:
        path = f"/form-requests/{request_id}/withdraw"
        return self._call("POST", path, FormRequestRecord)

    def forms_settings(self) -> FormsSettingsRecord:
        return self._call("GET", "/forms-settings", FormsSettingsRecord)

    def save_forms_settings(self, video_room_template: str) -> FormsSettingsRecord:
        """The clinic's video room address (empty: the default provider)."""
        body = FormsSettingsRecord(
            video_room_template=video_room_template,
            default_video_room_template=DEFAULT_ROOM_TEMPLATE,
        )
        return self._call("PUT", "/forms-settings", FormsSettingsRecord, json=body.model_dump())

    # --- treatment plans and the content library (online only) -------------------------

    def patient_treatment(self, patient_id: uuid.UUID) -> PatientTreatmentRecord:
        """The patient's plans (notes, photos' facts) and the content given to them."""
        return self._call("GET", f"/patients/{patient_id}/treatment", PatientTreatmentRecord)

    def start_treatment_plan(
        self, patient_id: uuid.UUID, title: str, phases: list[str], language: str = "en"
    ) -> PhaseMoved:
        """A new plan, in its first phase (the patient is given that phase's content)."""
        body = NewTreatmentPlan(
            title=check_title(title), phases=check_phases(phases), language=language
        )
        path = f"/patients/{patient_id}/treatment/plans"
        return self._call("POST", path, PhaseMoved, json=body.model_dump(mode="json"))

    def set_current_phase(
        self,
        patient_id: uuid.UUID,
        plan_id: uuid.UUID,
        phase_id: uuid.UUID,
        from_phase_id: uuid.UUID | None = None,
    ) -> PhaseMoved:
        """Move the plan into ``phase_id``; ``from_phase_id``, the phase this desk saw it
        in: if someone moved it since, ``Conflict`` says where it is now."""
        path = f"/patients/{patient_id}/treatment/plans/{plan_id}/current-phase"
        body = SetCurrentPhase(phase_id=phase_id, from_phase_id=from_phase_id)
        return self._call("PUT", path, PhaseMoved, json=body.model_dump(mode="json"))

    def add_progress_note(
        self, patient_id: uuid.UUID, plan_id: uuid.UUID, phase_id: uuid.UUID, text: str
    ) -> ProgressNoteRecord:
        body = NewProgressNote(phase_id=phase_id, text=check_progress_note(text))
        path = f"/patients/{patient_id}/treatment/plans/{plan_id}/notes"
        return self._call("POST", path, ProgressNoteRecord, json=body.model_dump(mode="json"))

    def add_progress_photo(
        self, patient_id: uuid.UUID, phase_id: uuid.UUID, image: bytes
    ) -> ProgressPhotoRecord:
        """A JPEG or PNG, checked here first (not sent at all when it is not one, or too
        large), then by the server, which keeps it."""
        kind = check_photo(image)
        path = f"/patients/{patient_id}/treatment/phases/{phase_id}/photos"
        headers = {"Content-Type": kind}
        return self._call("POST", path, ProgressPhotoRecord, headers=headers, content=image)

    def progress_photo(self, patient_id: uuid.UUID, photo_id: uuid.UUID) -> bytes:
        """A photo's bytes (each read audited by the server)."""
        return self._bytes("GET", f"/patients/{patient_id}/treatment/photos/{photo_id}")

    def remove_progress_note(self, patient_id: uuid.UUID, note_id: uuid.UUID) -> None:
        self._send("DELETE", f"/patients/{patient_id}/treatment/notes/{note_id}")

    def remove_progress_photo(self, patient_id: uuid.UUID, photo_id: uuid.UUID) -> None:
        self._send("DELETE", f"/patients/{patient_id}/treatment/photos/{photo_id}")

    def content_items(self) -> list[ContentItemRecord]:
        return self._call("GET", "/content", _ContentItems).root

    def save_content_item(
        self, body: SaveContentItem, item_id: uuid.UUID | None = None
    ) -> ContentItemRecord:
        """Add an item (``item_id`` None) or change one's fields. A PDF item's file goes
        with ``put_content_file`` afterwards."""
        payload = body.model_dump(mode="json")
        if item_id is None:
            return self._call("POST", "/content", ContentItemRecord, json=payload)
        return self._call("PUT", f"/content/{item_id}", ContentItemRecord, json=payload)

    def put_content_file(self, item_id: uuid.UUID, pdf: bytes) -> ContentItemRecord:
        """A PDF item's file, new or replacing its old one: checked here first (not sent
        at all when it is not a PDF, or too large), then by the server."""
        check_pdf(pdf)
        headers = {"Content-Type": "application/pdf"}
        path = f"/content/{item_id}/file"
        return self._call("PUT", path, ContentItemRecord, headers=headers, content=pdf)

    def remove_content_item(self, item_id: uuid.UUID) -> ContentItemRecord:
        return self._call("DELETE", f"/content/{item_id}", ContentItemRecord)

    # --- bills (online only: nothing of a bill is kept on the desk) ---------------------

    def patient_bills(self, patient_id: uuid.UUID) -> PatientBillsRecord:
        """A patient's invoices, balance and completed visits not invoiced yet."""
        return self._call("GET", f"/patients/{patient_id}/bills", PatientBillsRecord)

    def create_invoice(self, patient_id: uuid.UUID, body: NewInvoice) -> InvoiceRecord:
        """Issue an invoice; sending the same ``body`` again finds the one made."""
        path = f"/patients/{patient_id}/invoices"
        return self._call("POST", path, InvoiceRecord, json=body.model_dump(mode="json"))

    def invoice_appointment(
        self, appointment_id: uuid.UUID, body: InvoiceAppointmentBody
    ) -> InvoiceRecord:
        """Invoice a completed appointment at its type's price (refused in words when
        it has no price, is not completed or is invoiced already)."""
        path = f"/appointments/{appointment_id}/invoice"
        return self._call("POST", path, InvoiceRecord, json=body.model_dump(mode="json"))

    def record_payment(self, invoice_id: uuid.UUID, body: RecordPaymentBody) -> InvoiceRecord:
        path = f"/invoices/{invoice_id}/payments"
        return self._call("POST", path, InvoiceRecord, json=body.model_dump(mode="json"))

    def void_invoice(self, invoice_id: uuid.UUID, reason: str) -> InvoiceRecord:
        body = VoidInvoiceBody(reason=reason).model_dump(mode="json")
        return self._call("POST", f"/invoices/{invoice_id}/void", InvoiceRecord, json=body)

    def statement_pdf(self, patient_id: uuid.UUID) -> bytes:
        return self._file(f"/patients/{patient_id}/statement.pdf")

    def receipt_pdf(self, payment_id: uuid.UUID) -> bytes:
        return self._file(f"/payments/{payment_id}/receipt.pdf")

    def prices(self) -> list[TypePriceRecord]:
        return self._call("GET", "/prices", _Prices).root

    def save_prices(self, body: SavePrices) -> list[TypePriceRecord]:
        return self._call("PUT", "/prices", _Prices, json=body.model_dump(mode="json")).root

    # --- plumbing -----------------------------------------------------------------------

    def _bytes(self, method: str, path: str) -> bytes:
        """A call whose answer is a file, not JSON."""
        response = self._request(method, path, headers=self._headers())
        if not response.is_success:
            raise self._error(response)
        return response.content

    def _headers(self) -> dict[str, str]:
        headers = {}
        if self.device_token:
            headers[DEVICE_TOKEN_HEADER] = self.device_token
        if self.session_token:
            headers["Authorization"] = f"Bearer {self.session_token}"
        return headers

    def _send(self, method: str, path: str) -> None:
        """A call whose answer has no body worth reading (204)."""
        response = self._request(method, path, headers=self._headers())
        if not response.is_success:
            raise self._error(response)

    def _file(self, path: str) -> bytes:
        """A file the server makes (a PDF), as bytes."""
        response = self._request("GET", path, headers=self._headers())
        if not response.is_success:
            raise self._error(response)
        return response.content

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(
                f"The server at {self.server_url} did not answer in time. The desk keeps "
                "working from its local copy and will try again."
            ) from exc
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"Can't reach the server at {self.server_url}. Check the address and the "
                "internet connection; the desk keeps working from its local copy."
            ) from exc
        if response.is_success and self.answered is not None:
            self.answered()
        return response

    def _call(
        self,
        method: str,
        path: str,
        model: type[M],
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> M:
        response = self._request(method, path, headers=self._headers() | (headers or {}), **kwargs)
        if response.is_success:
            try:
                return model.model_validate_json(response.content)
            except ValidationError as exc:
                raise NotAClinicdeskServer(self._not_ours()) from exc
        raise self._error(response)

    def _error(self, response: httpx.Response) -> DomainError:
        try:
            body = ErrorBody.model_validate_json(response.content)
        except ValidationError:
            if response.status_code >= 500:
                return ServerUnreachable(
                    f"The server at {self.server_url} had a problem (HTTP "
                    f"{response.status_code}). The desk keeps working and will try again."
                )
            return NotAClinicdeskServer(self._not_ours())
        if body.code == SlotTaken.code:
            with contextlib.suppress(ValidationError):
                taken = SlotTakenBody.model_validate_json(response.content)
                return TimeTaken(taken.message, taken.suggestions)
        error = error_from_code(body.code, body.message)
        wait = response.headers.get("Retry-After", "")
        if isinstance(error, TooManyAttempts) and wait.isdigit():
            error.retry_after = int(wait)  # the sign-in dialog counts it down
        return error

    def _not_ours(self) -> str:
        return (
            f"{self.server_url} answers, but it is not a Clinicdesk server this program can "
            "talk to. Check the address."
        )


def _valid(model: type[M], **fields: Any) -> M:
    try:
        return model(**fields)
    except ValidationError as exc:
        names = ", ".join(str(e["loc"][0]).replace("_", " ") for e in exc.errors())
        raise InvalidInput(f"Please check: {names}.") from exc
