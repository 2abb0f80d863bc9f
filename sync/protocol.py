"""Messages of the sync protocol, shared by the desk and the server.

Versioned: every request carries ``PROTOCOL_HEADER``. Records are what a desk is allowed
to cache; secrets (password and token hashes) have no field here, so they cannot leak
through a sync by accident.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, StringConstraints

from common.appointments import AppointmentSource, AppointmentStatus, CancelledBy
from common.billing import InvoiceStatus, PaymentMethod
from common.booking_links import TEXT_LENGTH, TITLE_LENGTH, BookingLinkStatus
from common.booking_requests import REASON_LENGTH, BookingRequestStatus
from common.content import ContentKind
from common.forms import FormKind, FormStatus
from common.leads import NOTE_MAX as LEAD_NOTE_MAX
from common.leads import LeadChannel, LeadStatus, PreferredContact
from common.messaging import Channel, ConsentSource, DeliveryStatus, Direction, Purpose
from common.patients import Sex
from common.portal import InviteStatus, Relation
from common.roles import Role
from common.scheduling import ExceptionKind
from common.validation import SLUG_PATTERN

# Re-exported: the server takes the protocol's bounded values from here.
from sync.values import FIRST_YEAR as FIRST_YEAR
from sync.values import LARGEST_COUNT as LARGEST_COUNT
from sync.values import LAST_YEAR as LAST_YEAR
from sync.values import BirthDay as BirthDay
from sync.values import ClockTime as ClockTime
from sync.values import Day as Day
from sync.values import Flag as Flag
from sync.values import Instant as Instant
from sync.values import Printable as Printable
from sync.values import Prose as Prose
from sync.values import SequenceNumber as SequenceNumber
from sync.values import Version as Version
from sync.values import WholeNumber as WholeNumber

PROTOCOL_VERSION = 2  # 2: mutations are signed by the person who made them
PROTOCOL_HEADER = "X-Clinicdesk-Protocol"
DEVICE_TOKEN_HEADER = "X-Clinicdesk-Device"  # noqa: S105 - a header name
API_PREFIX = "/api/v1"
SCHEMA_HEADER = "X-Clinicdesk-Schema"
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 5000

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN.pattern)]
Email = Annotated[str, StringConstraints(min_length=3, max_length=254), Printable]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024), Printable]
DeviceName = Annotated[str, StringConstraints(min_length=1, max_length=120), Printable]
Phone = Annotated[str, StringConstraints(max_length=32), Printable]
ContactEmail = Annotated[str, StringConstraints(max_length=254), Printable]
Name = Annotated[str, StringConstraints(max_length=200), Printable]
Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
Minutes = Annotated[int, Strict(), Field(ge=0, le=100_000), WholeNumber]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- errors ------------------------------------------------------------------


class ErrorBody(Message):
    """Body of every 4xx: a machine-readable code and words a person can act on."""

    code: str
    message: str


# --- enrollment and sign-in ----------------------------------------------------


class ClinicInfo(Message):
    id: uuid.UUID
    slug: str
    name: str
    time_zone: str
    # ISO 3166 alpha-2: phone numbers typed without a country code are read in it. None
    # from a server that does not say (the desk then derives it from the time zone).
    country: str | None = None


class StaffInfo(Message):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role


class EnrollRequest(Message):
    clinic: Slug
    email: Email
    password: Password
    device_name: DeviceName


class EnrollResponse(Message):
    device_id: uuid.UUID
    device_token: str
    expires_at: AwareDatetime
    clinic: ClinicInfo
    staff: StaffInfo


# An Ed25519 public key, 32 bytes in unpadded URL-safe base64.
PublicKeyText = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]


class SignInRequest(Message):
    email: Email
    password: Password
    # The public half of the key this person will sign their changes with on this
    # workstation (made by the desk for this sign-in; see ``sync.signing``).
    signing_key: PublicKeyText | None = None


class SignInResponse(Message):
    session_token: str
    expires_at: AwareDatetime
    staff: StaffInfo
    clinic: ClinicInfo
    # The server's name for ``signing_key``; each signed change carries it.
    signing_key_id: uuid.UUID | None = None


# --- workstations and staff, for clinic admins (online only) -------------------------------


class SignInRecord(Message):
    """Someone signed in on a workstation, now."""

    id: uuid.UUID
    staff_id: uuid.UUID
    staff_name: str
    started_at: AwareDatetime
    expires_at: AwareDatetime


class WorkstationRecord(Message):
    id: uuid.UUID
    name: str
    enrolled_at: AwareDatetime
    last_seen_at: AwareDatetime | None
    expires_at: AwareDatetime
    revoked_at: AwareDatetime | None
    signed_in: list[SignInRecord]
    this_workstation: bool = False  # the one asking


class StaffMemberRecord(Message):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    active: bool


class LockoutInfo(Message):
    """A sign-in lock-out: an account's wrong passwords, or a network's, until when."""

    scope: Literal["account", "address"]
    email: str  # as typed; for an address, the attempt that tipped it over
    address: str
    at: AwareDatetime
    until: AwareDatetime


class LockoutList(Message):
    lockouts: list[LockoutInfo]


# --- change feed -------------------------------------------------------------------


class Record(Message):
    id: uuid.UUID
    version: int


class WorkingHoursEntry(Message):
    """One stretch of a provider's usual week, in the clinic's local time."""

    weekday: Annotated[int, Strict(), Field(ge=0, le=6), WholeNumber]  # Monday is 0
    start: ClockTime
    end: ClockTime
    location_id: uuid.UUID | None = None


class ProviderRecord(Record):
    display_name: str
    colour: str
    active: bool
    working_hours: list[WorkingHoursEntry] = Field(default_factory=list)


class LocationRecord(Record):
    name: str
    active: bool


class AppointmentTypeRecord(Record):
    name: str
    colour: str
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    provider_ids: list[uuid.UUID]  # empty: every provider offers it
    bookable_online: bool
    requires_confirmation: bool
    active: bool
    # A video consultation: each booking gets a video room (absent from older servers).
    video: bool = False


class ScheduleExceptionRecord(Record):
    provider_id: uuid.UUID | None  # None: the whole clinic (closures)
    kind: ExceptionKind
    first_day: date
    last_day: date
    start_time: ClockTime | None
    end_time: ClockTime | None
    note: str


class BookingRulesRecord(Record):
    horizon_days: int
    min_notice_minutes: int
    slot_rounding: int
    allow_any_provider: bool
    daily_cap: int | None
    patient_cancel_cutoff_hours: int
    patient_reschedule_cutoff_hours: int
    patients_may_cancel: bool


class StaffRecord(Record):
    """A staff member as desks see them: no e-mail, no password hash."""

    display_name: str
    role: Role
    active: bool


class PatientRecord(Record):
    first_name: str
    last_name: str
    date_of_birth: date | None
    phone: str | None
    email: str | None
    sex: Sex = Sex.UNKNOWN
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    postcode: str = ""
    # Short notes for whoever receives the patient ("needs wheelchair access").
    alerts: list[str] = Field(default_factory=list)


class AppointmentRecord(Record):
    provider_id: uuid.UUID
    patient_id: uuid.UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    status: AppointmentStatus
    source: AppointmentSource
    appointment_type_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    cancelled_by: CancelledBy | None = None
    cancelled_late: bool = False
    # When the patient checked in, went in and was done (absent from older servers, and
    # ignored by older desks): every desk times the waiting room from the same moments.
    arrived_at: AwareDatetime | None = None
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    # The video room of a video consultation, the same link the patient is given.
    video_url: str | None = None


class DeliverySummary(Message):
    """How one channel of a message fares, as the desk shows it."""

    channel: Channel
    status: DeliveryStatus
    error: str | None = None
    segments: int | None = None
    at: AwareDatetime | None = None


class MessageRecord(Record):
    patient_id: uuid.UUID | None
    direction: Direction
    purpose: Purpose
    kind: str
    channels: list[Channel]
    subject: str = ""
    body: str
    counterpart: str | None = None
    appointment_id: uuid.UUID | None = None
    sent_by_staff_id: uuid.UUID | None = None
    urgent: bool = False
    due_at: AwareDatetime
    read_at: AwareDatetime | None = None
    deliveries: list[DeliverySummary] = Field(default_factory=list)
    created_at: AwareDatetime


class ConsentRecord(Record):
    patient_id: uuid.UUID
    channel: Channel
    purpose: Purpose
    granted: bool
    source: ConsentSource
    decided_at: AwareDatetime
    staff_id: uuid.UUID | None = None
    note: str = ""


class FormRequestRecord(Record):
    """A form sent to a patient, without its answers (those stay on the server and are
    read on demand): enough for the hover card and the worklist of incomplete forms."""

    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None = None
    title: str
    kind: FormKind
    status: FormStatus
    sent_at: AwareDatetime
    completed_at: AwareDatetime | None = None


class MessageTemplateRecord(Record):
    kind: str
    channel: Channel
    purpose: Purpose
    subject: str
    body: str


Entity = Literal[
    "providers",
    "patients",
    "appointments",
    "locations",
    "appointment_types",
    "schedule_exceptions",
    "booking_rules",
    "staff",
    "messages",
    "consents",
    "message_templates",
    "form_requests",
]


class Tombstone(Message):
    """Drop this record: it was deleted, or (an appointment) it moved outside the date
    window the desk keeps."""

    entity: Entity
    id: uuid.UUID
    version: int
    reason: Literal["deleted", "left_scope"] = "deleted"


class ChangesPage(Message):
    """One page of ``changes since cursor``.

    The desk applies the page and stores ``next_cursor`` in one local transaction, so a
    crash between pages repeats at most one page and never skips one.
    """

    next_cursor: str
    has_more: bool
    # True when the desk's cursor is from an older dataset epoch: the desk drops its
    # cached records (never its outbox) before applying this page.
    reset: bool = False
    server_time: AwareDatetime
    providers: list[ProviderRecord] = Field(default_factory=list)
    patients: list[PatientRecord] = Field(default_factory=list)
    appointments: list[AppointmentRecord] = Field(default_factory=list)
    locations: list[LocationRecord] = Field(default_factory=list)
    appointment_types: list[AppointmentTypeRecord] = Field(default_factory=list)
    schedule_exceptions: list[ScheduleExceptionRecord] = Field(default_factory=list)
    booking_rules: list[BookingRulesRecord] = Field(default_factory=list)
    staff: list[StaffRecord] = Field(default_factory=list)
    messages: list[MessageRecord] = Field(default_factory=list)
    consents: list[ConsentRecord] = Field(default_factory=list)
    message_templates: list[MessageTemplateRecord] = Field(default_factory=list)
    form_requests: list[FormRequestRecord] = Field(default_factory=list)
    tombstones: list[Tombstone] = Field(default_factory=list)

    @property
    def row_count(self) -> int:
        return sum(
            len(part)
            for part in (
                self.providers,
                self.patients,
                self.appointments,
                self.locations,
                self.appointment_types,
                self.schedule_exceptions,
                self.booking_rules,
                self.staff,
                self.messages,
                self.consents,
                self.message_templates,
                self.form_requests,
                self.tombstones,
            )
        )


# --- cursors -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a desk is in its clinic's change feed.

    ``epoch`` names the dataset generation: when the server resets a clinic's feed (for
    example after purging old tombstones) it bumps the epoch, and a cursor from an older
    epoch means "download everything again".
    """

    epoch: int
    version: int

    @classmethod
    def start(cls) -> Cursor:
        return cls(epoch=0, version=0)

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """Read ``"epoch.version"``; raise ``ValueError`` on anything else."""
        epoch_text, sep, version_text = text.partition(".")
        if not sep or not epoch_text.isdigit() or not version_text.isdigit():
            raise ValueError(f"not a sync cursor: {text!r}")
        return cls(epoch=int(epoch_text), version=int(version_text))

    def __str__(self) -> str:
        return f"{self.epoch}.{self.version}"


# --- mutations (desk → server) -------------------------------------------------------
#
# Commands, not row dumps: "move appointment X to 10:30 with provider Y, based on version
# 7". The server re-checks every rule; the desk's optimistic copy is a guess until the
# result comes back.


class BookAppointment(Message):
    kind: Literal["book"] = "book"
    appointment_id: uuid.UUID  # chosen by the desk, so the optimistic row keeps its id
    provider_id: uuid.UUID
    patient_id: uuid.UUID
    starts_at: Instant
    ends_at: Instant
    appointment_type_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None


class MoveAppointment(Message):
    kind: Literal["move"] = "move"
    appointment_id: uuid.UUID
    base_version: Version
    provider_id: uuid.UUID
    starts_at: Instant
    ends_at: Instant


class CancelAppointment(Message):
    kind: Literal["cancel"] = "cancel"
    appointment_id: uuid.UUID
    base_version: Version
    # The patient rang to cancel (counts towards late cancellations) or the clinic did.
    cancelled_by: CancelledBy = CancelledBy.STAFF


class ConfirmAppointment(Message):
    kind: Literal["confirm"] = "confirm"
    appointment_id: uuid.UUID
    base_version: Version


class CheckIn(Message):
    kind: Literal["check_in"] = "check_in"
    appointment_id: uuid.UUID
    base_version: Version


class MarkNoShow(Message):
    kind: Literal["no_show"] = "no_show"
    appointment_id: uuid.UUID
    base_version: Version


class StartAppointment(Message):
    kind: Literal["start"] = "start"
    appointment_id: uuid.UUID
    base_version: Version


class CompleteAppointment(Message):
    kind: Literal["complete"] = "complete"
    appointment_id: uuid.UUID
    base_version: Version


class UpdatePatientContact(Message):
    kind: Literal["update_patient_contact"] = "update_patient_contact"
    patient_id: uuid.UUID
    base_version: Version
    phone: Phone | None
    email: ContactEmail | None


# --- a patient's file ------------------------------------------------------------------
#
# Shapes only, generously bounded; the rules (names required, a phone that can be dialled,
# a birth not in the future…) are ``common.patients``, checked by the server, so a bad
# value is a rejection in words waiting in "Needs attention", not a batch refused whole.

PersonName = Annotated[str, StringConstraints(max_length=200), Printable]
AddressText = Annotated[str, StringConstraints(max_length=200), Printable]
AlertText = Annotated[str, StringConstraints(max_length=200), Printable]


class PatientFields(Message):
    first_name: PersonName
    last_name: PersonName
    date_of_birth: BirthDay | None = None
    sex: Sex = Sex.UNKNOWN
    address_line1: AddressText = ""
    address_line2: AddressText = ""
    city: AddressText = ""
    postcode: AddressText = ""
    phone: Phone | None = None
    email: ContactEmail | None = None
    alerts: list[AlertText] = Field(default_factory=list, max_length=50)


class RegisterPatient(PatientFields):
    """A new patient. The desk chooses the id, so an appointment booked for them before
    the registration reaches the server (offline) can name them; the outbox sends the
    registration first."""

    kind: Literal["register_patient"] = "register_patient"
    patient_id: uuid.UUID


class UpdatePatient(PatientFields):
    """The whole of a patient's details as staff saved them, based on the version seen."""

    kind: Literal["update_patient"] = "update_patient"
    patient_id: uuid.UUID
    base_version: Version


# --- admin settings (clinic admins; synced like everything else) ---------------------
#
# The protocol only checks shapes; the rules (a range ends after it starts, a duration is
# sensible…) are checked by the server, so a bad setting is a rejection waiting in "Needs
# attention", never a batch refused whole.


class SetWorkingHours(Message):
    kind: Literal["set_working_hours"] = "set_working_hours"
    provider_id: uuid.UUID
    base_version: Version
    hours: list[WorkingHoursEntry] = Field(max_length=200)


class SaveLocation(Message):
    kind: Literal["save_location"] = "save_location"
    location_id: uuid.UUID
    base_version: Version | None  # None: a new location
    name: Name
    active: Flag = True


class SaveAppointmentType(Message):
    kind: Literal["save_appointment_type"] = "save_appointment_type"
    appointment_type_id: uuid.UUID
    base_version: Version | None  # None: a new type
    name: Name
    colour: Colour
    duration_minutes: Minutes
    buffer_before_minutes: Minutes = 0
    buffer_after_minutes: Minutes = 0
    provider_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    bookable_online: Flag = True
    requires_confirmation: Flag = False
    active: Flag = True
    # None: as it is (a desk from before video consultations never switches one off).
    video: Flag | None = None


class SaveScheduleException(Message):
    kind: Literal["save_schedule_exception"] = "save_schedule_exception"
    exception_id: uuid.UUID
    base_version: Version | None  # None: a new exception
    provider_id: uuid.UUID | None
    exception_kind: ExceptionKind
    first_day: Day
    last_day: Day
    start_time: ClockTime | None = None
    end_time: ClockTime | None = None
    note: Annotated[str, StringConstraints(max_length=200), Printable] = ""


class RemoveScheduleException(Message):
    kind: Literal["remove_schedule_exception"] = "remove_schedule_exception"
    exception_id: uuid.UUID
    base_version: Version


class SetBookingRules(Message):
    kind: Literal["set_booking_rules"] = "set_booking_rules"
    base_version: Version | None  # None: the clinic still runs on the defaults
    horizon_days: Minutes
    min_notice_minutes: Minutes
    slot_rounding: Minutes
    allow_any_provider: Flag
    daily_cap: Minutes | None
    patient_cancel_cutoff_hours: Minutes
    patient_reschedule_cutoff_hours: Minutes
    patients_may_cancel: Flag


# --- messaging ------------------------------------------------------------------------

SUBJECT_LENGTH = 200
BODY_LENGTH = 1600  # ten SMS segments; an e-mail reply is rarely longer
TEMPLATE_LENGTH = 5000
Subject = Annotated[str, StringConstraints(max_length=SUBJECT_LENGTH), Printable]
Body = Annotated[str, StringConstraints(min_length=1, max_length=BODY_LENGTH), Prose]
MessageKind = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]


class SendMessage(Message):
    """Staff write to a patient, on one or both channels. The desk chooses the id, so the
    message is in its inbox at once (offline too) and sent once however often the push
    is repeated."""

    kind: Literal["send_message"] = "send_message"
    message_id: uuid.UUID
    patient_id: uuid.UUID
    channels: list[Channel] = Field(min_length=1, max_length=2)
    purpose: Purpose = Purpose.CARE
    subject: Subject = ""
    body: Body


class MarkMessagesRead(Message):
    kind: Literal["mark_messages_read"] = "mark_messages_read"
    message_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class AttachMessage(Message):
    """A text from a number no patient had, put in a patient's conversation."""

    kind: Literal["attach_message"] = "attach_message"
    message_id: uuid.UUID
    patient_id: uuid.UUID


class RecordConsent(Message):
    kind: Literal["record_consent"] = "record_consent"
    consent_id: uuid.UUID
    patient_id: uuid.UUID
    channel: Channel
    purpose: Purpose
    granted: Flag
    note: Annotated[str, StringConstraints(max_length=200), Printable] = ""


class SaveMessageTemplate(Message):
    """A clinic admin's wording of one kind of message on one channel."""

    kind: Literal["save_message_template"] = "save_message_template"
    template_id: uuid.UUID
    base_version: Version | None  # None: replacing the default for the first time
    message_kind: MessageKind
    channel: Channel
    subject: Subject = ""
    body: Annotated[str, StringConstraints(min_length=1, max_length=TEMPLATE_LENGTH), Prose]


class TellRunningLate(Message):
    """Text the provider's later patients of the day that the clinic runs late."""

    kind: Literal["running_late"] = "running_late"
    provider_id: uuid.UUID
    minutes: Annotated[int, Strict(), Field(ge=5, le=240), WholeNumber]
    # Patients whose appointments start from this instant until the end of its day.
    after: Instant


MessagingCommand = (
    SendMessage
    | MarkMessagesRead
    | AttachMessage
    | RecordConsent
    | SaveMessageTemplate
    | TellRunningLate
)


class MessagingSettingsBody(Message):
    """How a clinic sends (clinic admins edit it; every desk reads it)."""

    sender_name: Annotated[str, StringConstraints(max_length=100), Printable] = ""
    phone: Annotated[str, StringConstraints(max_length=32), Printable] = ""
    email: Annotated[str, StringConstraints(max_length=254), Printable] = ""
    # The clinic's own number texts are sent from (E.164); "" for the server's.
    sms_number: Annotated[str, StringConstraints(pattern=r"^(\+[1-9][0-9]{6,14})?$")] = ""
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] = "en"
    # Texts that are not urgent go out only between these times, in the clinic's zone.
    texts_from: ClockTime
    texts_until: ClockTime
    marketing_cap: Annotated[int, Strict(), Field(ge=0, le=100), WholeNumber] = 4
    marketing_cap_days: Annotated[int, Strict(), Field(ge=1, le=365), WholeNumber] = 30
    send_confirmations: Flag = True


class DevOutboxItem(Message):
    """What the development outbox "sent" (development and test servers only)."""

    id: uuid.UUID
    delivery_id: uuid.UUID
    channel: Channel
    to_address: str
    sender_name: str
    subject: str
    text: str
    attachments: list[str]
    sent_at: AwareDatetime


# The status each status command leads to.
STATUS_OF: dict[str, AppointmentStatus] = {
    "confirm": AppointmentStatus.CONFIRMED,
    "check_in": AppointmentStatus.ARRIVED,
    "start": AppointmentStatus.IN_PROGRESS,
    "complete": AppointmentStatus.COMPLETED,
    "no_show": AppointmentStatus.NO_SHOW,
    "cancel": AppointmentStatus.CANCELLED,
}

AppointmentCommand = (
    BookAppointment
    | MoveAppointment
    | CancelAppointment
    | ConfirmAppointment
    | CheckIn
    | MarkNoShow
    | StartAppointment
    | CompleteAppointment
)
PatientCommand = RegisterPatient | UpdatePatient
SettingsCommand = (
    SetWorkingHours
    | SaveLocation
    | SaveAppointmentType
    | SaveScheduleException
    | RemoveScheduleException
    | SetBookingRules
)
Command = Annotated[
    AppointmentCommand | UpdatePatientContact | PatientCommand | SettingsCommand | MessagingCommand,
    Field(discriminator="kind"),
]


class Mutation(Message):
    """One outbox entry on the wire. ``mutation_id`` makes it idempotent; ``seq`` orders a
    device's mutations; ``staff_id`` says who made it (perhaps hours ago, offline), and
    ``signature`` (by the key ``key_id``, which the server knows belongs to that person on
    this workstation) proves it: a device token alone cannot act as anyone."""

    mutation_id: uuid.UUID
    seq: SequenceNumber
    staff_id: uuid.UUID
    made_at: Instant
    command: Command
    key_id: uuid.UUID | None = None
    signature: Annotated[str, StringConstraints(max_length=100)] | None = None


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    """Decode unpadded URL-safe base64; ``ValueError`` on anything else."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64") from exc


def signed_bytes(mutation: Mutation) -> bytes:
    """The canonical form of everything in ``mutation`` but its signature: what is signed."""
    fields = mutation.model_dump(mode="json", exclude={"signature"})
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature_holds(public_key: bytes, mutation: Mutation) -> bool:
    """Whether ``mutation`` carries a good signature by ``public_key`` over every field."""
    if not mutation.signature:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            unb64(mutation.signature), signed_bytes(mutation)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


class PushRequest(Message):
    mutations: list[Mutation] = Field(max_length=500)


# ``unverified``: the change does not carry a valid signature of a current sign-in of the
# person it names (altered on the way, signed by a revoked key, or from an old desk).
RejectCode = Literal[
    "slot_taken", "stale_version", "forbidden", "invalid", "not_found", "unverified"
]


class Slot(Message):
    provider_id: uuid.UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class SlotTakenBody(ErrorBody):
    """A 409 ``slot_taken`` over HTTP: the shared error body plus the nearest free times."""

    suggestions: list[Slot] = Field(default_factory=list)


# --- web booking requests: listed and decided over the API, never cached by the desk ---


class BookingRequestRecord(Message):
    """A patient's request for a time, with the names staff read it by: the request list
    is online only, so it carries them rather than relying on the desk's copy (a patient
    who registered on the web a moment ago may not have reached the desk yet)."""

    id: uuid.UUID
    # None: asked on the booking widget by someone not linked to a patient yet (a new
    # patient, perhaps); ``patient_name`` is then the applicant's name.
    patient_id: uuid.UUID | None
    patient_name: str
    # None: "any provider" (the clinic chooses who sees the patient).
    provider_id: uuid.UUID | None
    provider_name: str | None = None
    appointment_type_id: uuid.UUID | None
    type_name: str | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    status: BookingRequestStatus
    appointment_id: uuid.UUID | None
    decided_by_staff_id: uuid.UUID | None
    decided_by_name: str | None = None
    decided_at: AwareDatetime | None
    note: str
    reason: str | None = None
    created_at: AwareDatetime
    # What the applicant typed on the widget (empty for a request made for a patient).
    first_name: str = ""
    last_name: str = ""
    date_of_birth: date | None = None
    phone: str | None = None
    email: str | None = None
    insurance: str = ""


class ConfirmedRequest(Message):
    request: BookingRequestRecord
    appointment: AppointmentRecord


class ConfirmBookingRequest(Message):
    """Confirm at another time than the one asked for (the asked one was taken): the
    request's length, with its own provider unless ``provider_id`` names another.

    A request from someone not linked to a patient needs one of ``patient_id`` (the
    patient on file staff matched them to) or ``new_patient`` (registered with the
    booking, in one transaction)."""

    starts_at: Instant | None = None
    provider_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    new_patient: PatientFields | None = None


class PatientMatch(Message):
    """A patient on file who may be a request's applicant, and why it looks so."""

    patient_id: uuid.UUID
    name: str
    date_of_birth: date | None = None
    phone: str | None = None
    email: str | None = None
    reasons: list[str]


Reason = Annotated[str, StringConstraints(max_length=REASON_LENGTH), Printable]


class RejectBookingRequest(Message):
    """Why staff turn a request down (required: the patient is told)."""

    reason: Reason


# --- leads: enquiries from the public form, listed and worked over the API, never cached ---

LeadNoteText = Annotated[str, StringConstraints(max_length=LEAD_NOTE_MAX), Prose]


class LeadNote(Message):
    at: AwareDatetime
    staff_id: uuid.UUID | None = None
    staff_name: str
    text: str


class LeadRecord(Message):
    """An enquiry with what the desk shows of it: the details the person gave, where
    they came from, the spam hints (how many enquiries came from the same address, the
    browser's family), its notes and who moved it last. Online only, like booking
    requests, so it carries names rather than relying on the desk's copy."""

    id: uuid.UUID
    first_name: str
    last_name: str
    date_of_birth: date | None
    phone: str | None
    email: str | None
    message: str
    preferred_contact: PreferredContact
    channel: LeadChannel
    source_detail: str
    ip_hash: str
    same_address: int  # enquiries to this clinic from the same address, this one included
    user_agent_hash: str
    user_agent_family: str
    spam: bool
    status: LeadStatus
    notes: list[LeadNote]
    patient_id: uuid.UUID | None
    patient_name: str | None = None
    decided_by_staff_id: uuid.UUID | None
    decided_by_name: str | None = None
    decided_at: AwareDatetime | None
    created_at: AwareDatetime

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class LeadNoteBody(Message):
    """A note on its own, or the note that goes with a move (required to discard)."""

    text: LeadNoteText = ""


class ConvertLead(Message):
    """Link the lead to a patient on file (``patient_id``), or, without one, register a
    new patient from the lead's details."""

    patient_id: uuid.UUID | None = None


class LeadDuplicate(Message):
    """A patient on file who may be the person who enquired, and why it looks so."""

    patient_id: uuid.UUID
    name: str
    date_of_birth: date | None
    phone: str | None
    email: str | None
    reasons: list[str]


class ConvertedLead(Message):
    lead: LeadRecord
    patient: PatientRecord


class MutationResult(Message):
    """Answers, not errors: a rejection is a normal result the desk shows to a person."""

    mutation_id: uuid.UUID
    status: Literal["applied", "rejected"]
    code: RejectCode | None = None
    message: str | None = None
    appointment: AppointmentRecord | None = None
    patient: PatientRecord | None = None
    provider: ProviderRecord | None = None
    location: LocationRecord | None = None
    appointment_type: AppointmentTypeRecord | None = None
    schedule_exception: ScheduleExceptionRecord | None = None
    booking_rules: BookingRulesRecord | None = None
    # ``message`` is the rejection's words, so a message record travels as this.
    message_record: MessageRecord | None = None
    consent: ConsentRecord | None = None
    message_template: MessageTemplateRecord | None = None
    suggestions: list[Slot] = Field(default_factory=list)

    @property
    def record(self) -> Record | None:
        """The one record the answer carries (None: the server has no such row)."""
        found: Record | None = next(
            (r for r in map(self.__getattribute__, RESULT_RECORD_FIELDS) if r is not None), None
        )
        return found


# The fields of ``MutationResult`` that carry a record; at most one is set.
RESULT_RECORD_FIELDS = (
    "appointment",
    "patient",
    "provider",
    "location",
    "appointment_type",
    "schedule_exception",
    "booking_rules",
    "message_record",
    "consent",
    "message_template",
)


class PushResponse(Message):
    results: list[MutationResult]


# --- the practice page: a clinic's public profile, edited by its admins (online only) ---
#
# Loosely bounded here (sizes at the door); the server checks each field against its
# real limits and says what is wrong in words, which a schema error could not.

ProfileText = Annotated[str, StringConstraints(max_length=1000)]
ProfileProse = Annotated[str, StringConstraints(max_length=20_000)]


class PracticeProfileFields(Message):
    """What an admin sets of the clinic's public page (``PUT /practice-profile``)."""

    slug: ProfileText
    display_name: ProfileText
    specialty: ProfileText = ""
    address: ProfileText = ""
    phone: ProfileText = ""
    email: ProfileText = ""
    about: ProfileProse = ""
    insurances: Annotated[list[ProfileText], Field(max_length=200)] = Field(default_factory=list)
    cancellation_policy: ProfileProse = ""
    brand_colour: ProfileText = "#1f5f8b"
    published: Flag = False
    booking_enabled: Flag = False
    leads_enabled: Flag = False
    button_size: ProfileText = "medium"
    button_colour: ProfileText = "#1f5f8b"


class PracticeProfileBody(PracticeProfileFields):
    """The profile as the server holds it (or the defaults it would start from, when
    ``saved`` is false), with what the desk needs to show the page and its embed code."""

    saved: Flag = False
    has_logo: Flag = False
    logo_version: str = ""
    # Where patients reach this server: the page, the booking widget and the embed code
    # all start with it.
    public_base_url: str

    def fields(self) -> PracticeProfileFields:
        return PracticeProfileFields.model_validate(
            self.model_dump(include=set(PracticeProfileFields.model_fields))
        )


class PracticeLogoUpload(Message):
    """A logo sent as JSON (a raw PNG or JPEG body works as well)."""

    content_base64: Annotated[str, StringConstraints(max_length=400_000)]


class PreviewLink(Message):
    """A short-lived address showing the practice page as it is now, published or not."""

    url: str
    expires_at: AwareDatetime


# --- booking links, the staff side: broadcast rules and links sent from a patient's file ---
# Online only, never cached by the desk: a link's address exists only in the answer to
# sending it, and a rule is read when the menu or the settings open.

RuleText = Annotated[str, StringConstraints(max_length=4 * TEXT_LENGTH), Prose]


class BroadcastRuleRecord(Message):
    """A rule with the names staff read it by (its type's, its providers')."""

    id: uuid.UUID
    title: str
    appointment_type_id: uuid.UUID
    type_name: str
    provider_ids: list[uuid.UUID]
    # Empty: every provider who offers the type.
    provider_names: list[str]
    earliest_days: int
    latest_days: int
    link_valid_days: int
    welcome_text: str
    sms_text: str
    confirmation_text: str
    allow_reschedule: bool
    active: bool


class SaveBroadcastRule(Message):
    """A rule as an admin wrote it. Bounds here are loose; the rules (``common.
    broadcast_rules``) say what is wrong in words."""

    title: Annotated[str, StringConstraints(max_length=4 * TITLE_LENGTH), Printable]
    appointment_type_id: uuid.UUID
    provider_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    earliest_days: Annotated[int, Strict(), Field(ge=-100_000, le=100_000), WholeNumber] = 0
    latest_days: Annotated[int, Strict(), Field(ge=-100_000, le=100_000), WholeNumber] = 28
    link_valid_days: Annotated[int, Strict(), Field(ge=-100_000, le=100_000), WholeNumber] = 14
    welcome_text: RuleText = ""
    sms_text: RuleText
    confirmation_text: RuleText = ""
    allow_reschedule: bool = False


class SendBookingLink(Message):
    rule_id: uuid.UUID


class BookingLinkRecord(Message):
    """One link in a patient's file. ``status`` is true when read: an open link past its
    expiry reads "expired" though nobody has written that yet."""

    id: uuid.UUID
    patient_id: uuid.UUID
    rule_id: uuid.UUID
    rule_title: str
    status: BookingLinkStatus
    appointment_type_id: uuid.UUID
    type_name: str
    provider_names: list[str]  # empty: every provider who offers the type
    first_day: date
    last_day: date
    expires_at: AwareDatetime
    allow_reschedule: bool
    sent_at: AwareDatetime
    sent_by_name: str | None
    appointment_id: uuid.UUID | None
    appointment_starts_at: AwareDatetime | None


class SentBookingLink(Message):
    """The answer to sending (or re-sending) a link: the only place its address ever
    appears, so staff can copy it; and what became of the text."""

    link: BookingLinkRecord
    url: str
    text: str
    # Why the text was not sent (no mobile number, opted out…); None when it is on its way.
    held: str | None
    notice: str


class BookingLinkEventRecord(Message):
    at: AwareDatetime
    status: BookingLinkStatus
    detail: str
    appointment_id: uuid.UUID | None
    starts_at: AwareDatetime | None
    provider_name: str | None
    staff_name: str | None


# --- the patient portal (online only: the desk asks when it shows them) ------------------


class PortalInviteRecord(Message):
    """An invitation to the portal as the desk lists it, with its state now (an open
    invitation past its expiry reads as expired)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str
    email: str
    status: InviteStatus
    sent_at: AwareDatetime
    opened_at: AwareDatetime | None = None
    accepted_at: AwareDatetime | None = None
    expires_at: AwareDatetime


class SharedAddressRecord(Message):
    email: str
    patient_ids: list[uuid.UUID]
    patient_names: list[str]


class InviteCandidatesRecord(Message):
    """What "Send (N) invites" would do: N, those already invited, and the addresses on
    several files that keep their patients out until staff fix them."""

    count: int
    pending: int
    shared: list[SharedAddressRecord]


class BulkInviteResult(Message):
    sent: int


class PortalPersonRecord(Message):
    patient_id: uuid.UUID
    name: str
    relation: Relation


class PatientPortalRecord(Message):
    """The portal as one patient's file shows it: their account (if any), the family it
    links here, invitations sent, and their portable profile only while they share it
    with this clinic (``profile`` is None otherwise: the clinic sees only the name)."""

    has_account: bool
    email: str | None = None
    relation: Relation | None = None
    holder_name: str | None = None  # for a dependant: whose account manages them
    people: list[PortalPersonRecord] = []
    invites: list[PortalInviteRecord] = []
    shared: bool = False
    shared_since: AwareDatetime | None = None
    profile: dict[str, str] | None = None


class ImpersonationTicket(Message):
    """A one-time address that opens the portal as the patient, for two minutes."""

    url: str
    expires_at: AwareDatetime


# --- forms ------------------------------------------------------------------------------------


class FormQuestionBody(Message):
    """One question as the form builder sends and shows it (checked by
    ``common.forms.check_questions`` on both ends)."""

    id: str = Field(max_length=40)
    kind: str = Field(max_length=16)
    label: str = Field(max_length=2000)
    help: str = Field(default="", max_length=2000)
    required: bool = True
    choices: list[str] = Field(default_factory=list, max_length=100)
    multiple: bool = False


class SaveFormTemplate(Message):
    """A form as the builder leaves it. ``base_version``: the version the admin opened
    (None for a new form); a form published since is a 409, not overwritten."""

    title: str = Field(max_length=500)
    kind: FormKind
    appointment_type_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    active: bool = True
    questions: list[FormQuestionBody] = Field(max_length=200)
    base_version: int | None = None


class FormTemplateRecord(Message):
    id: uuid.UUID
    title: str
    kind: FormKind
    appointment_type_ids: list[uuid.UUID]
    active: bool
    version: int  # the current published version
    questions: list[FormQuestionBody]
    published_at: AwareDatetime | None = None
    sent: int = 0  # forms sent to patients, every version


class FormAnswerRecord(Message):
    question_id: str
    label: str
    kind: str
    answer: str  # in words, as the patient gave it ("—" when left empty)


class FormResponseRecord(Message):
    """A form sent to a patient, with the questions of the version it was answered under
    and the answers so far (each read audited)."""

    request: FormRequestRecord
    version: int
    answers: list[FormAnswerRecord]
    completed_by: str = ""  # "the patient", "Anna (account holder)", a staff member's name


class FormsSettingsRecord(Message):
    video_room_template: str  # empty: the default provider
    default_video_room_template: str


# --- treatment plans and the content library ------------------------------------------------

PhaseName = Annotated[str, StringConstraints(max_length=200), Printable]
LanguageCode = Annotated[str, StringConstraints(max_length=20), Printable]


class NewTreatmentPlan(Message):
    """A plan as staff start it: its title, its phases in order (it begins in the first)
    and the language the patient reads the clinic's content in."""

    title: Annotated[str, StringConstraints(max_length=500), Printable]
    phases: list[PhaseName] = Field(max_length=50)
    language: LanguageCode = "en"


class SetCurrentPhase(Message):
    """Move a plan into ``phase_id``. ``from_phase_id``: the phase the desk saw it in;
    if someone moved it since, the move is refused (409) rather than undoing theirs.
    Left out (an older desk), the move is made whatever the plan's phase."""

    phase_id: uuid.UUID
    from_phase_id: uuid.UUID | None = None


class NewProgressNote(Message):
    phase_id: uuid.UUID
    text: Annotated[str, StringConstraints(max_length=20_000), Prose]


class ProgressNoteRecord(Message):
    id: uuid.UUID
    phase_id: uuid.UUID
    text: str
    written_at: AwareDatetime
    written_by: str = ""  # the staff member's name


class ProgressPhotoRecord(Message):
    """A photo's facts; its bytes come from ``GET …/treatment/photos/{id}``."""

    id: uuid.UUID
    phase_id: uuid.UUID
    content_type: str
    size_bytes: int
    taken_at: AwareDatetime
    added_by: str = ""


class TreatmentPhaseRecord(Message):
    id: uuid.UUID
    position: int
    name: str
    current: bool = False
    entered_at: AwareDatetime | None = None  # when it was last made the current phase


class TreatmentPlanRecord(Message):
    id: uuid.UUID
    patient_id: uuid.UUID
    title: str
    language: str
    current_phase_id: uuid.UUID | None = None
    started_at: AwareDatetime
    phases: list[TreatmentPhaseRecord] = []
    notes: list[ProgressNoteRecord] = []  # oldest first
    photos: list[ProgressPhotoRecord] = []  # oldest first


class ContentDeliveryRecord(Message):
    """A library item given to the patient, and when they first opened it."""

    id: uuid.UUID
    item_id: uuid.UUID
    title: str
    kind: ContentKind
    phase_name: str
    delivered_at: AwareDatetime
    opened_at: AwareDatetime | None = None
    # Removed from the library since: still on the record, no longer there to read.
    withdrawn: bool = False


class PatientTreatmentRecord(Message):
    """A patient's file's Treatment tab: their plans, newest first, and what of the
    library they were given, newest first (each read audited)."""

    plans: list[TreatmentPlanRecord] = []
    deliveries: list[ContentDeliveryRecord] = []


class PhaseMoved(Message):
    """The plan after a move, and how many library items it gave the patient (0 when
    the phase was current already, or its content given before)."""

    plan: TreatmentPlanRecord
    delivered: int


class SaveContentItem(Message):
    """A library item as the editor leaves it. A PDF item's file is sent after it, as
    the body of ``PUT /content/{id}/file``: until then no patient is shown it."""

    kind: ContentKind
    title: Annotated[str, StringConstraints(max_length=500), Printable]
    body: Annotated[str, StringConstraints(max_length=40_000), Prose] = ""
    url: Annotated[str, StringConstraints(max_length=2000), Printable] = ""
    phases: list[PhaseName] = Field(default_factory=list, max_length=50)
    language: LanguageCode = "en"
    published: bool = True


class ContentItemRecord(Message):
    id: uuid.UUID
    kind: ContentKind
    title: str
    body: str = ""
    url: str = ""
    phases: list[str] = []
    language: str
    published: bool
    file_size: int | None = None  # a PDF's, in bytes
    changed_at: AwareDatetime


# --- bills and payments -------------------------------------------------------------------
#
# Bills live on the server only (the desk reads them while it can reach it). Amounts are
# whole minor units (pence) of the clinic's currency; the bounds here only keep numbers a
# column cannot hold out, ``common.billing`` refuses the rest in words.

MinorUnits = Annotated[int, Strict(), Field(ge=-(10**12), le=10**12), WholeNumber]


class InvoiceLineBody(Message):
    description: str = Field(max_length=2000)
    amount_minor: MinorUnits


class NewInvoice(Message):
    """An invoice typed at the desk. ``id`` is made by the desk: sending it again (after
    a lost answer) finds the invoice made the first time instead of issuing another."""

    id: uuid.UUID
    lines: list[InvoiceLineBody] = Field(max_length=200)
    due_on: Day | None = None


class InvoiceAppointmentBody(Message):
    """Invoice a completed appointment at its type's price (``id`` as for NewInvoice)."""

    id: uuid.UUID
    due_on: Day | None = None


class RecordPaymentBody(Message):
    """Money taken at the desk (``id`` made by the desk, so a retry takes it once)."""

    id: uuid.UUID
    amount_minor: MinorUnits
    method: PaymentMethod


class VoidInvoiceBody(Message):
    reason: str = Field(max_length=2000)


class PaymentRecord(Message):
    id: uuid.UUID
    invoice_id: uuid.UUID
    invoice_number: str
    amount_minor: int
    currency: str
    method: PaymentMethod
    received_at: AwareDatetime
    # Money taken online that the bill could not take, to refund by hand: what staff
    # are told ("" for a payment that counts toward the bill).
    to_refund: str = ""


class InvoiceRecord(Message):
    id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    appointment_id: uuid.UUID | None = None
    lines: list[InvoiceLineBody]
    total_minor: int
    paid_minor: int
    due_minor: int  # still to pay (0 once paid or void)
    currency: str
    issued_at: AwareDatetime
    due_on: date
    status: InvoiceStatus
    overdue: bool = False
    paid_at: AwareDatetime | None = None
    voided_at: AwareDatetime | None = None
    void_reason: str = ""
    payments: list[PaymentRecord] = []


class UninvoicedVisit(Message):
    """A completed appointment with no invoice yet, and what its type costs (None: no
    price set, so it cannot be invoiced until an admin sets one)."""

    appointment_id: uuid.UUID
    starts_at: AwareDatetime
    type_name: str
    price_minor: int | None = None


class PatientBillsRecord(Message):
    """A patient's bills at the clinic: the balance (negative: in credit), the invoices
    newest first, and completed appointments not invoiced yet."""

    patient_id: uuid.UUID
    currency: str
    balance_minor: int
    invoices: list[InvoiceRecord]
    uninvoiced: list[UninvoicedVisit] = []


class TypePriceRecord(Message):
    appointment_type_id: uuid.UUID
    type_name: str
    active: bool
    amount_minor: int | None = None  # None: no price
    currency: str


class TypePriceBody(Message):
    appointment_type_id: uuid.UUID
    amount_minor: MinorUnits | None = None  # None: remove the price


class SavePrices(Message):
    prices: list[TypePriceBody] = Field(max_length=500)
