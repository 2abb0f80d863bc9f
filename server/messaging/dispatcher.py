"""The dispatcher: sends due deliveries through their channel's provider.

One round (``run_once``):

1. **Claim** a batch of due deliveries in one short transaction: each is marked
   ``sending`` with a lease (``claimed_until``) and this dispatcher's name. On PostgreSQL
   the claim reads ``FOR UPDATE SKIP LOCKED``, so several dispatchers (processes) take
   disjoint batches without waiting for each other; on SQLite the claim is a write
   transaction, and SQLite has one writer at a time, so one claimer at a time.
   The rules are checked here, just before sending: an opted-out number or a withdrawn
   consent holds the delivery for good; a text inside quiet hours waits for the window to
   open; marketing over the patient's frequency cap is held.
2. **Send** each through its provider, outside any transaction (a provider may take
   seconds; no lock is held meanwhile).
3. **Record** each outcome (sent, retry later, failed) in a short transaction — for a
   real provider right after each send — and copy it onto the message's summary so the
   desks see it.

Never twice: a delivery is claimed by exactly one dispatcher, and only a dispatcher whose
lease has run out loses it; a dispatcher begins no send once its lease is near its end
(the rest of its batch waits for the lease to run out and is taken again), so no delivery
is in two dispatchers' hands at once. The development outbox is written in the same
transaction that records the outcome, so for it a crash at any point either sent and
recorded, or did neither: a restarted dispatcher re-claims the delivery when its lease
runs out and sends it exactly once. A real provider cannot share our transaction; a crash
in the instant between its "accepted" and our commit would send that one delivery again
when the lease runs out (the e-mail's Message-ID is derived from the delivery, so mail
systems see the same message twice, not two), and a provider that timed out may have
taken the message after all (neither Twilio nor SendGrid takes an idempotency key).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from html import escape

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from common.messaging import Channel, DeliveryStatus, Purpose
from common.quiet_hours import QuietHours, is_allowed, next_allowed
from server.clinics.models import Clinic
from server.db import Database, utcnow
from server.messaging import service
from server.messaging.models import Delivery, DevOutboxEntry, MessagingSettings
from server.messaging.providers.base import (
    Accepted,
    Attachment,
    Outgoing,
    PermanentFailure,
    Provider,
    SendFailure,
    TransientFailure,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# Failures that are the server's settings, not the message's (``providers.failures``).
OUR_SETTINGS = frozenset({"provider_auth", "provider_config"})
# A send is not begun this close to the end of the dispatcher's lease.
LEASE_MARGIN = timedelta(seconds=20)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


def retry_delay(attempts: int, asked: float | None = None) -> timedelta:
    """30 s, 1 min, 2 min, 4 min… at most an hour; longer if the provider asked."""
    delay = min(FIRST_RETRY * int(2 ** max(attempts - 1, 0)), LONGEST_RETRY)
    if asked is not None and asked > 0:
        delay = max(delay, timedelta(seconds=min(asked, LONGEST_RETRY.total_seconds())))
    return delay


@dataclass
class Round:
    """What one round did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    waiting: int = 0  # put off to the end of quiet hours

    def __add__(self, other: Round) -> Round:
        return Round(
            self.claimed + other.claimed,
            self.sent + other.sent,
            self.retrying + other.retrying,
            self.failed + other.failed,
            self.held + other.held,
            self.waiting + other.waiting,
        )


@dataclass(frozen=True)
class _Work:
    """A claimed delivery, ready to hand over (read inside the claim transaction)."""

    delivery_id: uuid.UUID
    message_id: uuid.UUID
    outgoing: Outgoing


@dataclass
class _Outcome:
    work: _Work
    accepted: Accepted | None = None
    failure: SendFailure | None = None


# Builds the attachments of a delivery (the confirmation's .ics), in the claim session.
AttachmentMaker = Callable[[Session, Delivery], tuple[Attachment, ...]]


@dataclass
class Dispatcher:
    db: Database
    # A channel's provider; None: the development outbox (a table of our own).
    providers: Mapping[Channel, Provider | None]
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    batch: int = 100
    lease: timedelta = timedelta(minutes=2)
    max_attempts: int = MAX_ATTEMPTS
    clock: Callable[[], datetime] = utcnow
    public_base_url: str = ""
    attachments: AttachmentMaker | None = None
    # The unsubscribe link of a marketing e-mail to (clinic, patient, purpose).
    unsubscribe_url: Callable[[uuid.UUID, uuid.UUID, Purpose], str] | None = None
    # Other work done before every round (processing stored webhook events).
    chores: tuple[Callable[[], object], ...] = ()

    # --- one round ----------------------------------------------------------------------

    def run_once(self) -> Round:
        """Claim, send and record one batch; the numbers say what happened.

        What goes to the development outbox is written and recorded in one transaction
        for the whole batch. What goes to a real provider is recorded right after each
        send, and nothing is handed over once this dispatcher's lease is near its end: the
        rest stays claimed until the lease runs out and another round takes it, so no
        delivery is ever in two dispatchers' hands at once."""
        started = self.clock()
        work, round_ = self._claim()
        if not work:
            return round_
        deadline = started + self.lease - LEASE_MARGIN
        outbox = [item for item in work if self.providers.get(item.outgoing.channel) is None]
        for item in work:
            if item in outbox:
                continue
            if self.clock() >= deadline:
                break  # left claimed: taken again once the lease has run out
            round_ = round_ + self._record([self._send(item)])
        if outbox:
            round_ = round_ + self._record([_Outcome(item) for item in outbox])
        return round_

    def drain(self, rounds: int = 1000) -> Round:
        """Rounds until nothing is due (tests, benchmarks, the CLI's ``--once``)."""
        total = Round()
        for _ in range(rounds):
            done = self.run_once()
            total = total + done
            if done.claimed == 0 and done.held == 0 and done.waiting == 0:
                break
        return total

    # --- claiming -----------------------------------------------------------------------

    def _claim(self) -> tuple[list[_Work], Round]:
        now = self.clock()
        round_ = Round()
        work: list[_Work] = []
        with self.db.writing() as session:
            due = select(Delivery).where(
                or_(
                    and_(Delivery.status == DeliveryStatus.QUEUED, Delivery.due_at <= now),
                    # A dispatcher died holding these: its lease ran out.
                    and_(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_until < now),
                )
            )
            due = due.order_by(Delivery.due_at).limit(self.batch)
            if not self.db.is_sqlite:
                due = due.with_for_update(skip_locked=True)
            claimed = list(session.scalars(due))
            if not claimed:
                return work, round_
            rules = _Rules(session, now, claimed)
            for delivery in claimed:
                verdict = rules.verdict(delivery)
                if isinstance(verdict, datetime):
                    delivery.status = DeliveryStatus.QUEUED
                    delivery.due_at = verdict
                    delivery.claimed_until = None
                    round_.waiting += 1
                    continue
                if verdict is not None:
                    service.hold(session, [delivery], verdict)
                    round_.held += 1
                    continue
                try:
                    with session.begin_nested():
                        work.append(self._work(session, rules, delivery))
                except Exception as error:  # one bad delivery must not stop every other
                    log.exception("delivery %s could not be prepared", delivery.id)
                    service.hold(session, [delivery], f"It could not be prepared ({error}).")
                    round_.held += 1
                    continue
                delivery.status = DeliveryStatus.SENDING
                delivery.claimed_until = now + self.lease
                delivery.claimed_by = self.name
                delivery.attempts += 1
            # The messages' summaries are left as they were ("queued"): a desk learns the
            # outcome when it is recorded, a moment later, with one change instead of two.
            round_.claimed = len(work)
        return work, round_

    def _work(self, session: Session, rules: _Rules, delivery: Delivery) -> _Work:
        attachments = (
            self.attachments(session, delivery)
            if self.attachments and delivery.calendar_appointment_id
            else ()
        )
        assert delivery.to_address is not None  # held at composing otherwise
        text, html, headers = delivery.text, delivery.html, {}
        link = self._unsubscribe(delivery)
        if link is not None:
            text = f"{text}\n\nTo get no more of these e-mails: {link}"
            html = (
                f'{html or _as_html(delivery.text)}<p><a href="{escape(link)}">Unsubscribe</a></p>'
            )
            headers = {
                "List-Unsubscribe": f"<{link}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        outgoing = Outgoing(
            delivery_id=delivery.id,
            clinic_id=delivery.clinic_id,
            channel=delivery.channel,
            to=delivery.to_address,
            sender_name=rules.sender(delivery.clinic_id),
            text=text,
            subject=delivery.subject,
            html=html,
            attachments=attachments,
            headers=headers,
            status_callback=self._callback(rules, delivery),
            sender_number=rules.sms_number(delivery.clinic_id)
            if delivery.channel is Channel.SMS
            else None,
        )
        return _Work(delivery.id, delivery.message_id, outgoing)

    def _unsubscribe(self, delivery: Delivery) -> str | None:
        """Every marketing e-mail (and survey, and review request) can be stopped with
        one click, no sign-in."""
        wanted = delivery.channel is Channel.EMAIL and delivery.purpose.needs_opt_in
        if not wanted or self.unsubscribe_url is None or delivery.patient_id is None:
            return None
        return self.unsubscribe_url(delivery.clinic_id, delivery.patient_id, delivery.purpose)

    def _callback(self, rules: _Rules, delivery: Delivery) -> str | None:
        if not self.public_base_url or delivery.channel is not Channel.SMS:
            return None
        slug = rules.clinic(delivery.clinic_id).slug
        return f"{self.public_base_url.rstrip('/')}/webhooks/twilio/{slug}/status"

    # --- sending ------------------------------------------------------------------------

    def _send(self, work: _Work) -> _Outcome:
        provider = self.providers.get(work.outgoing.channel)
        if provider is None:
            return _Outcome(work, accepted=None)  # the development outbox, at recording
        try:
            return _Outcome(work, accepted=provider.send(work.outgoing))
        except SendFailure as failure:
            return _Outcome(work, failure=failure)
        except Exception as error:  # a bug in an adapter must not stop the others
            log.exception("provider %s failed on delivery %s", provider.name, work.delivery_id)
            return _Outcome(
                work, failure=TransientFailure(f"Unexpected error: {type(error).__name__}")
            )

    # --- recording ----------------------------------------------------------------------

    def _record(self, outcomes: list[_Outcome]) -> Round:
        round_ = Round()
        now = self.clock()
        with self.db.writing() as session:
            ids = [outcome.work.delivery_id for outcome in outcomes]
            rows = {
                row.id: row
                for row in session.scalars(
                    select(Delivery)
                    .where(Delivery.id.in_(ids))
                    .order_by(Delivery.id)
                    .with_for_update()
                )
            }
            for outcome in outcomes:
                delivery = rows.get(outcome.work.delivery_id)
                if delivery is None or delivery.claimed_by != self.name:
                    continue  # our lease ran out and another dispatcher has it now
                self._apply(session, delivery, outcome, now, round_)
            service.refresh_summaries(session, {row.message_id for row in rows.values()})
        return round_

    def _apply(
        self, session: Session, delivery: Delivery, outcome: _Outcome, now: datetime, round_: Round
    ) -> None:
        delivery.claimed_until = None
        delivery.claimed_by = None
        if outcome.failure is None:
            accepted = outcome.accepted
            if accepted is None:  # the development outbox: handing over is delivering
                _write_dev_outbox(session, outcome.work.outgoing)
                accepted = Accepted(provider_message_id=str(delivery.id), delivered=True)
                delivery.provider = "dev_outbox"
            else:
                delivery.provider = self.providers[delivery.channel].name  # type: ignore[union-attr]
            delivery.provider_message_id = accepted.provider_message_id
            delivery.segments = accepted.segments
            delivery.sent_at = now
            delivery.error = None
            if accepted.delivered:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = now
            else:
                delivery.status = DeliveryStatus.SENT
            round_.sent += 1
            return
        failure = outcome.failure
        # Our own settings (credentials, sender) are put right by whoever runs the
        # server: such a message waits for that, for two days, rather than six tries.
        ours = failure.code in OUR_SETTINGS
        given_up = (
            now - delivery.created_at > timedelta(days=2)
            if ours
            else delivery.attempts >= self.max_attempts
        )
        if isinstance(failure, PermanentFailure) or given_up:
            delivery.status = DeliveryStatus.FAILED
            delivery.failed_at = now
            delivery.error = _words(failure.reason)
            round_.failed += 1
            return
        asked = failure.retry_after if isinstance(failure, TransientFailure) else None
        delivery.status = DeliveryStatus.QUEUED
        delivery.due_at = now + (LONGEST_RETRY if ours else retry_delay(delivery.attempts, asked))
        delivery.error = _words(f"{failure.reason} Trying again shortly.")
        round_.retrying += 1

    # --- running ------------------------------------------------------------------------

    def run(
        self, stop: threading.Event, wake: threading.Event | None = None, idle: float = 1.0
    ) -> None:
        """Rounds until ``stop`` is set; between empty rounds wait ``idle`` seconds, or
        less if ``wake`` is set (a message was just committed in this process)."""
        while not stop.is_set():
            try:
                for chore in self.chores:
                    chore()
                done = self.run_once()
            except Exception:  # the database may be away for a moment; try again
                log.exception("dispatcher round failed")
                done = Round()
            if done.claimed == 0:
                if wake is not None:
                    wake.wait(idle)
                    wake.clear()
                else:
                    stop.wait(idle)


def _words(text: str) -> str:
    return text if len(text) <= 500 else text[:497] + "…"


def _write_dev_outbox(session: Session, outgoing: Outgoing) -> None:
    session.add(
        DevOutboxEntry(
            clinic_id=outgoing.clinic_id,
            delivery_id=outgoing.delivery_id,
            channel=outgoing.channel,
            to_address=outgoing.to,
            sender_name=outgoing.sender_name,
            subject=outgoing.subject,
            text=outgoing.text,
            html=outgoing.html,
            attachments=[attachment.filename for attachment in outgoing.attachments],
        )
    )


class _Rules:
    """The checks made just before sending, read once per batch."""

    def __init__(self, session: Session, now: datetime, deliveries: list[Delivery]) -> None:
        self.session = session
        self.now = now
        clinic_ids = {delivery.clinic_id for delivery in deliveries}
        self._clinics = {
            clinic.id: clinic
            for clinic in session.scalars(select(Clinic).where(Clinic.id.in_(clinic_ids)))
        }
        saved = {
            found.clinic_id: found
            for found in session.scalars(
                select(MessagingSettings).where(MessagingSettings.clinic_id.in_(clinic_ids))
            )
        }
        self._settings = {
            clinic_id: saved.get(clinic_id) or service.settings_of(session, clinic_id)
            for clinic_id in clinic_ids
        }
        self._opted_out: dict[uuid.UUID, set[str]] = {
            clinic_id: service.opted_out(
                session,
                clinic_id,
                [d.to_index for d in deliveries if d.clinic_id == clinic_id and d.to_index],
            )
            for clinic_id in clinic_ids
        }
        self._consents: dict[uuid.UUID, service.Consents] = {}
        for clinic_id in clinic_ids:
            patients = [
                d.patient_id for d in deliveries if d.clinic_id == clinic_id and d.patient_id
            ]
            self._consents.update(service.consents_of(session, clinic_id, patients))
        self._marketing: dict[uuid.UUID, int] = {}
        self._counted: dict[uuid.UUID, set[uuid.UUID]] = {}

    def clinic(self, clinic_id: uuid.UUID) -> Clinic:
        return self._clinics[clinic_id]

    def sender(self, clinic_id: uuid.UUID) -> str:
        return service.signature(self._settings[clinic_id], self._clinics[clinic_id])

    def sms_number(self, clinic_id: uuid.UUID) -> str | None:
        return self._settings[clinic_id].sms_number or None

    def verdict(self, delivery: Delivery) -> str | datetime | None:
        """None: send now. A reason: hold for good. An instant: wait until then."""
        if delivery.answers_keyword:
            return None  # the reply the law asks for: at once, whatever was decided
        if delivery.to_index and delivery.to_index in self._opted_out[delivery.clinic_id]:
            return service.OPTED_OUT
        if delivery.patient_id is not None:
            consents = self._consents.get(delivery.patient_id, {})
            if not service.allowed(consents, delivery.channel, delivery.purpose):
                return service.refused_consent(delivery.channel, delivery.purpose)
        settings = self._settings[delivery.clinic_id]
        if delivery.channel is Channel.SMS and not delivery.urgent:
            zone = self._clinics[delivery.clinic_id].time_zone
            hours = quiet_hours_of(settings)
            if not is_allowed(self.now, zone, hours):
                return next_allowed(self.now, zone, hours)
        if delivery.purpose.value == "marketing" and delivery.patient_id is not None:
            return self._over_cap(delivery, settings)
        return None

    def _over_cap(self, delivery: Delivery, settings: MessagingSettings) -> str | None:
        """Counted in messages, not deliveries: a newsletter by e-mail and by text is one."""
        patient_id = delivery.patient_id
        assert patient_id is not None
        if patient_id not in self._marketing:
            since = self.now - timedelta(days=settings.marketing_cap_days)
            self._marketing[patient_id] = service.marketing_sent(
                self.session, delivery.clinic_id, patient_id, since
            )
        counted = self._counted.setdefault(patient_id, set())
        if delivery.message_id in counted:
            return None  # another channel of a message already let through
        if self._marketing[patient_id] >= settings.marketing_cap:
            return (
                f"The patient already had {settings.marketing_cap} marketing messages in "
                f"{settings.marketing_cap_days} days."
            )
        self._marketing[patient_id] += 1
        counted.add(delivery.message_id)
        return None


def quiet_hours_of(settings: MessagingSettings) -> QuietHours:
    def clock(minute: int) -> time:
        return time(minute // 60, minute % 60)

    return QuietHours(clock(settings.texts_from_minute), clock(settings.texts_until_minute))


def _as_html(text: str) -> str:
    """A text-only e-mail's HTML part (needed once a link is added to it): the same words,
    escaped, its lines kept."""
    return "".join(f"<p>{escape(part).replace(chr(10), '<br>')}</p>" for part in text.split("\n\n"))
