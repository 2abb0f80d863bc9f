"""Every table, imported in one place so ``Base.metadata`` is complete (for Alembic), and
the hook that stamps synced rows with versions, so whoever uses the models has it."""

import server.changefeed.versioning  # noqa: F401  - registers the version stamping hook
from server.audit.models import AuditEvent
from server.auth.models import SignInCounter, SignInLockout
from server.billing.models import Invoice, Payment, PaymentEvent, TypePrice
from server.booking_links.models import BookingLink, BookingLinkEvent, BroadcastRule, ManageLink
from server.booking_requests.models import BookingRequest
from server.clinics.models import Clinic
from server.content.models import ContentDelivery, ContentItem
from server.db import Base
from server.forms.models import FormRequest, FormResponse, FormTemplate, FormVersion
from server.idempotency.models import IdempotencyKey
from server.leads.models import Lead
from server.messaging.models import (
    ConsentDecision,
    Delivery,
    DevOutboxEntry,
    Message,
    MessageTemplate,
    MessagingSettings,
    PhoneOptOut,
    WebhookEvent,
)
from server.mutations.models import AppliedMutation
from server.patients.models import Patient
from server.portal.models import (
    MagicLink,
    PortalAccount,
    PortalInvite,
    PortalMember,
    PortalSession,
    SharingConsent,
)
from server.scheduling.models import (
    Appointment,
    AppointmentType,
    BookingRules,
    Location,
    Provider,
    ScheduleException,
)
from server.staff.models import Device, StaffSession, StaffUser
from server.treatment.models import ProgressNote, ProgressPhoto, TreatmentPhase, TreatmentPlan
from server.web.models import PracticeProfile, RateCounter

__all__ = [
    "AppliedMutation",
    "Appointment",
    "AppointmentType",
    "AuditEvent",
    "Base",
    "BookingLink",
    "BookingLinkEvent",
    "BookingRequest",
    "BookingRules",
    "BroadcastRule",
    "Clinic",
    "ConsentDecision",
    "ContentDelivery",
    "ContentItem",
    "Delivery",
    "DevOutboxEntry",
    "Device",
    "FormRequest",
    "FormResponse",
    "FormTemplate",
    "FormVersion",
    "IdempotencyKey",
    "Invoice",
    "Lead",
    "Location",
    "MagicLink",
    "ManageLink",
    "Message",
    "MessageTemplate",
    "MessagingSettings",
    "Patient",
    "Payment",
    "PaymentEvent",
    "PhoneOptOut",
    "PortalAccount",
    "PortalInvite",
    "PortalMember",
    "PortalSession",
    "PracticeProfile",
    "ProgressNote",
    "ProgressPhoto",
    "Provider",
    "RateCounter",
    "ScheduleException",
    "SharingConsent",
    "SignInCounter",
    "SignInLockout",
    "StaffSession",
    "StaffUser",
    "TreatmentPhase",
    "TreatmentPlan",
    "TypePrice",
    "WebhookEvent",
]
