"""Links and codes sent to patients are readable nowhere at rest: the desks' copy of the
message shows a mask in their place, and what must keep them to be sent (the deliveries,
the development outbox) is sealed in the database; the migration seals what was stored
before, and its downgrade opens it again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Boolean, Integer, String, Text, Uuid, column, insert, select, table, text

from common.messaging import Channel, Purpose
from common.roles import Role
from server import crypto
from server.db import UTCDateTime, alembic_config, migrate, transaction, utcnow
from server.messaging import service
from server.messaging.dispatcher import Dispatcher
from server.messaging.models import Delivery, DevOutboxEntry, Message
from server.patients.models import Patient

TOKEN = "Xq7rT2mN9bVcL4kP8sJ3hF6dW1zY5aE0"
CODE = "482913"
URL = f"https://alder.example.org/l/{TOKEN}"
SMS = f"Alder Clinic: book your check-up at {URL} (code {CODE})"
SUBJECT = f"Your link {TOKEN}"
EMAIL = f"Book at {URL}"
HTML = f'<p>Book <a href="{URL}">here</a>.</p>'
SEALED = ("message_deliveries", "dev_outbox")
COLUMNS = ("subject", "text", "html")
BEFORE = "0f9f1eb998f7"  # the schema before the texts were sealed
DEV_OUTBOX = {Channel.SMS: None, Channel.EMAIL: None}


@pytest.fixture
def clinic(factory):
    made = factory.clinic("alder", roles=(Role.FRONT_DESK,), patients=1)
    with transaction(factory.db) as session:
        patient = session.get(Patient, made.records.patient_ids[0])
        patient.phone = "+447400912345"
        patient.email = "pat@example.org"
    return made


def compose(db, clinic) -> uuid.UUID:
    """A text and an e-mail carrying the token and the code, both concealed."""
    with transaction(db) as session:
        message = service.compose(
            session,
            clinic.id,
            patient=session.get(Patient, clinic.records.patient_ids[0]),
            purpose=Purpose.CARE,
            kind="booking_link",
            drafts=[
                service.Draft(Channel.SMS, SMS),
                service.Draft(Channel.EMAIL, EMAIL, subject=SUBJECT, html=HTML),
            ],
            urgent=True,  # not kept waiting by quiet hours, whatever the time of the run
            conceal=[TOKEN, CODE],
        )
        return message.id


def raw_values(db, *tables: str) -> list[tuple[str, Any]]:
    """Every value of every row of ``tables`` as the database holds it."""
    with db() as session:
        return [
            (name, value)
            for name in tables
            for row in session.execute(text(f"SELECT * FROM {name}"))  # noqa: S608
            for value in row
        ]


def leaks(db, *secrets: str) -> list[tuple[str, Any]]:
    tables = ("messages", *SEALED)
    return [(t, v) for t, v in raw_values(db, *tables) if any(s in str(v) for s in secrets)]


def test_a_concealed_token_is_readable_nowhere_yet_goes_out_in_full(
    client, db, app, clinic, factory, pull_all
):
    message_id = compose(db, clinic)
    assert Dispatcher(app.state.database, DEV_OUTBOX).drain().sent == 2

    assert leaks(db, TOKEN, CODE) == []
    with db() as session:
        sent = {entry.channel: entry for entry in session.scalars(select(DevOutboxEntry))}
        waiting = session.scalars(select(Delivery)).all()
        message = session.get(Message, message_id)
    # What the provider was handed, and what the queue keeps to hand over, is in full.
    assert sent[Channel.SMS].text == SMS
    assert (sent[Channel.EMAIL].subject, sent[Channel.EMAIL].text) == (SUBJECT, EMAIL)
    assert sent[Channel.EMAIL].html == HTML
    assert {(d.channel, d.text) for d in waiting} == {(Channel.SMS, SMS), (Channel.EMAIL, EMAIL)}
    # The desks' copy says a link went, and does not open it.
    masked = "Alder Clinic: book your check-up at https://alder.example.org/l/••• (code •••)"
    assert (message.body, message.subject) == (masked, "Your link •••")
    pages = pull_all(factory.staff_headers(clinic.front_desk))
    [record] = [r for page in pages for r in page["messages"] if r["id"] == str(message_id)]
    assert (record["body"], record["subject"]) == (masked, "Your link •••")


def test_the_sealed_columns_open_only_where_they_were_sealed(db, clinic):
    compose(db, clinic)
    keys = crypto.field_keys()
    with db() as session:
        [stored] = session.execute(
            text("SELECT text FROM message_deliveries WHERE channel = 'sms'")
        ).scalars()
    assert keys.open(stored, table="message_deliveries", column="text") == SMS
    with pytest.raises(crypto.UnreadableField):
        keys.open(stored, table="dev_outbox", column="text")
    with pytest.raises(TypeError, match="cannot be compared"):
        select(Delivery).where(Delivery.text == SMS)


def test_concealing_masks_every_secret_whole_and_nothing_else():
    assert service.concealed("a-123456-b 12", ["12", "123456", ""]) == "a-•••-b •••"
    assert service.concealed("nothing secret", []) == "nothing secret"


def test_a_lone_string_is_refused_rather_than_masked_letter_by_letter(db, clinic):
    with transaction(db) as session, pytest.raises(TypeError, match="conceal=\\[token\\]"):
        service.compose(
            session,
            clinic.id,
            patient=session.get(Patient, clinic.records.patient_ids[0]),
            purpose=Purpose.CARE,
            kind="booking_link",
            drafts=[service.Draft(Channel.SMS, SMS)],
            conceal=TOKEN,
        )


# --- texts stored before are sealed by the migration ------------------------------------

OLD_DELIVERIES = table(
    "message_deliveries",
    column("id", Uuid()),
    column("clinic_id", Uuid()),
    column("message_id", Uuid()),
    column("channel", String()),
    column("purpose", String()),
    column("urgent", Boolean()),
    column("answers_keyword", Boolean()),
    column("subject", String()),
    column("text", Text()),
    column("html", Text()),
    column("status", String()),
    column("due_at", UTCDateTime()),
    column("attempts", Integer()),
    column("created_at", UTCDateTime()),
    column("modified_at", UTCDateTime()),
)
OLD_TEXT = f"Written before: {URL}"


def texts(db) -> dict[tuple[str, str], set[str | None]]:
    """Each sealed column's raw values, by table and column."""
    found: dict[tuple[str, str], set[str | None]] = {}
    with db() as session:
        for name in SEALED:
            for row in session.execute(text(f"SELECT subject, text, html FROM {name}")):  # noqa: S608
                for col, value in zip(COLUMNS, row, strict=True):
                    found.setdefault((name, col), set()).add(value)
    return found


def test_the_migration_seals_the_texts_already_stored_and_its_downgrade_opens_them(
    database_url, db, app, clinic
):
    message_id = compose(db, clinic)
    assert Dispatcher(app.state.database, DEV_OUTBOX).drain().sent == 2
    old_id = uuid.uuid4()
    try:
        command.downgrade(alembic_config(database_url), BEFORE)
        opened = texts(db)
        assert opened[("message_deliveries", "text")] == {SMS, EMAIL}
        assert opened[("dev_outbox", "html")] == {None, HTML}
        assert opened[("dev_outbox", "subject")] == {"", SUBJECT}
        # A row written by the code of before, in the clear.
        now = utcnow()
        with transaction(db) as session:
            session.execute(
                insert(OLD_DELIVERIES).values(
                    id=old_id,
                    clinic_id=clinic.id,
                    message_id=message_id,
                    channel="sms",
                    purpose="care",
                    urgent=False,
                    answers_keyword=False,
                    subject="",
                    text=OLD_TEXT,
                    html=None,
                    status="held",
                    due_at=now,
                    attempts=0,
                    created_at=now,
                    modified_at=now,
                )
            )
        migrate(database_url)

        assert leaks(db, TOKEN) == []
        keys = crypto.field_keys()
        for (name, col), values in texts(db).items():
            for value in values - {None}:
                keys.open(value, table=name, column=col)  # each sealed for its own column
        with db() as session:
            old = session.get(Delivery, old_id)
            entries = session.scalars(select(DevOutboxEntry)).all()
        assert (old.text, old.subject, old.html) == (OLD_TEXT, "", None)
        assert {(e.subject, e.text, e.html) for e in entries} == {
            ("", SMS, None),
            (SUBJECT, EMAIL, HTML),
        }

        command.downgrade(alembic_config(database_url), BEFORE)
        assert texts(db)[("message_deliveries", "text")] == {SMS, EMAIL, OLD_TEXT}
    finally:
        migrate(database_url)  # the schema back at head for the tests after, whatever happened
