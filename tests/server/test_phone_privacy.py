"""Patients' phone numbers are sealed by the server before they reach the database: the
files hold no readable number, a patient is still found from an inbound message's sender
through the keyed index, desks still receive the number itself, and numbers stored before
are sealed by the migration."""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from alembic import command
from pydantic import SecretStr, ValidationError
from sqlalchemy import (
    BigInteger,
    String,
    Text,
    Uuid,
    column,
    insert,
    select,
    table,
    text,
    type_coerce,
    update,
)

from common.roles import Role
from server import crypto
from server.config import Settings
from server.crypto import EncryptedText, FieldKeys, FieldKeysMissing, UnreadableField
from server.db import UTCDateTime, alembic_config, migrate, transaction, utcnow
from server.patients.models import Patient
from server.patients.service import patients_with_phone
from server.staff.models import Device
from tests.server.test_mutations import mutation, push
from tests.server.test_patient_mutations import register
from tests.support.postgres import needs_postgres

ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ON_POSTGRES = pytest.mark.parametrize(
    "database_url",
    [
        pytest.param(
            "postgres",
            marks=[pytest.mark.postgres, needs_postgres()],
        )
    ],
    indirect=True,
)
# The patients table as the database holds it, with no sealing type in the way.
RAW_PATIENTS = table(
    "patients",
    column("id", Uuid()),
    column("first_name", String()),
    column("phone", Text()),
    column("phone_index", String()),
    column("email", String()),
)

# One number, in every form it could be recognised by in a file.
TYPED = "07400 912417"
E164 = "+447400912417"
FORMS = (E164, TYPED, "07400912417", "447400912417", "7400912417")
OTHER = "+447400900532"
BEFORE = "5b1e7c2a9d40"  # the schema before phones were sealed


@pytest.fixture
def desk(factory):
    clinic = factory.clinic("alder", roles=(Role.FRONT_DESK, Role.READ_ONLY), providers=1)
    return clinic, factory.signed_desk(clinic.front_desk)


def register_through_the_api(client, desk, phone=TYPED) -> uuid.UUID:
    clinic, headers = desk
    patient_id = uuid.uuid4()
    [result] = push(
        client, headers, mutation(clinic.front_desk.staff_id, register(patient_id, phone=phone))
    )
    assert result["status"] == "applied", result
    assert result["patient"]["phone"] == E164  # the desk that registered gets it back
    return patient_id


def assert_no_number_in(content: bytes, where: str) -> None:
    for form in FORMS:
        assert form.encode() not in content, f"{form!r} is readable in {where}"


def sqlite_file_bytes(database_url: str) -> bytes:
    """The database file and its write-ahead log, after folding the log into the file."""
    path = Path(database_url.removeprefix("sqlite:///"))
    with closing(sqlite3.connect(path)) as connection:
        busy, _log, _done = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0, "a connection was still reading: the log could not be folded in"
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def stored_phone(db, patient_id) -> tuple[str | None, str | None]:
    """The phone column and its index as the database holds them."""
    with db() as session:
        row = session.execute(
            select(RAW_PATIENTS.c.phone, RAW_PATIENTS.c.phone_index).where(
                RAW_PATIENTS.c.id == patient_id
            )
        ).one()
    return row.phone, row.phone_index


def store_raw(db, patient_id, **values) -> None:
    """Write straight into the patients table, as someone behind the server's back."""
    with transaction(db) as session:
        session.execute(update(RAW_PATIENTS).where(RAW_PATIENTS.c.id == patient_id).values(values))


# --- SQLite: nothing readable in the file ------------------------------------------


@ON_SQLITE
def test_a_registered_number_is_nowhere_in_the_sqlite_file(app, client, db, desk, database_url):
    patient_id = register_through_the_api(client, desk)
    with db() as session:
        assert session.get(Patient, patient_id).phone == E164  # really saved, and readable
    app.state.engine.dispose()  # every connection closed: the log can be folded in whole

    assert_no_number_in(sqlite_file_bytes(database_url), "the SQLite database")


# --- PostgreSQL: the column holds ciphertext, and so does the table's file ---------


@ON_POSTGRES
def test_postgres_holds_only_the_sealed_number(client, db, desk):
    patient_id = register_through_the_api(client, desk)
    with db() as session:
        session.execute(text("CHECKPOINT"))
        answers = session.scalars(text("SELECT result FROM applied_mutations")).all()

    raw_phone, raw_index = stored_phone(db, patient_id)
    assert_no_number_in(raw_phone.encode(), "patients.phone")
    assert crypto.field_keys().open(raw_phone, table="patients", column="phone") == E164
    assert raw_index == crypto.phone_index(E164)
    assert_no_number_in("".join(answers).encode(), "the stored answers to desk changes")


@ON_POSTGRES
def test_postgres_table_file_holds_no_number_when_readable(client, db, desk):
    register_through_the_api(client, desk)
    with db() as session:
        session.execute(text("CHECKPOINT"))  # the table's pages written to its file
        folder, relative = session.execute(
            text("SELECT current_setting('data_directory'), pg_relation_filepath('patients')")
        ).one()
    table_file = Path(folder) / relative
    try:
        content = table_file.read_bytes()
    except OSError as error:
        pytest.skip(
            f"the server's data files are not readable here ({error.strerror}: {table_file}); "
            "test_postgres_holds_only_the_sealed_number checks the column through SQL"
        )
    assert content, "the table's file is empty: the checkpoint did not write the row"
    assert_no_number_in(content, str(table_file))


# --- found from an inbound message's sender, in the caller's clinic only ------------


def test_a_patient_is_found_by_number_in_their_clinic_only(client, db, factory, desk):
    clinic, _headers = desk
    registered = register_through_the_api(client, desk)
    other = factory.clinic("birch", roles=())
    with transaction(db) as session:
        twin = Patient(clinic_id=clinic.id, first_name="Twin", last_name="Lovelace", phone=E164)
        elsewhere = Patient(clinic_id=other.id, first_name="Ada", last_name="Else", phone=E164)
        stranger = Patient(clinic_id=clinic.id, first_name="No", last_name="Match", phone=OTHER)
        gone = Patient(clinic_id=clinic.id, first_name="Gone", last_name="Away", phone=E164)
        gone.deleted_at = utcnow()
        session.add_all([twin, elsewhere, stranger, gone])
        session.flush()
        twin_id, elsewhere_id = twin.id, elsewhere.id

    with db() as session:
        found = [p.id for p in patients_with_phone(session, clinic.id, E164)]
        theirs = [p.id for p in patients_with_phone(session, other.id, E164)]
        assert [p.phone for p in patients_with_phone(session, clinic.id, OTHER)] == [OTHER]
        assert patients_with_phone(session, clinic.id, "+447400999999") == []
        assert patients_with_phone(session, clinic.id, "CLINIC") == []  # an alphanumeric sender

    assert found == [registered, twin_id]  # both who share it; not the deleted one
    assert theirs == [elsewhere_id]


def test_the_index_follows_a_changed_number(client, db, desk):
    clinic, headers = desk
    patient_id = register_through_the_api(client, desk)
    with db() as session:
        version = session.get(Patient, patient_id).version
    [result] = push(
        client,
        headers,
        mutation(
            clinic.front_desk.staff_id,
            register(patient_id, phone="07400 900532")
            | {"kind": "update_patient", "base_version": version},
            seq=2,
        ),
    )
    assert result["status"] == "applied", result

    with db() as session:
        assert patients_with_phone(session, clinic.id, E164) == []
        assert [p.id for p in patients_with_phone(session, clinic.id, OTHER)] == [patient_id]
        session.get(Patient, patient_id).phone = None
        assert session.get(Patient, patient_id).phone_index is None  # no number, no index
        session.rollback()


def test_the_index_is_keyed_and_the_column_cannot_be_compared(db):
    keys = crypto.field_keys()
    other_keys = FieldKeys.from_settings(Settings(secret_key="another-" + "k" * 40))

    assert keys.phone_index(E164) == keys.phone_index(E164)
    assert keys.phone_index(E164) != keys.phone_index(OTHER)
    assert keys.phone_index(E164) != other_keys.phone_index(E164)  # not a plain hash
    assert len(keys.phone_index(E164)) == 32
    with pytest.raises(ValueError, match=r"E\.164"):
        keys.phone_index(TYPED)
    with pytest.raises(TypeError, match="blind index"), db() as session:
        session.execute(select(Patient).where(Patient.phone == E164))


# --- desks receive the number itself ---------------------------------------------------


def test_other_desks_pull_the_number_in_the_clear(client, desk, factory, pull_all):
    clinic, _headers = desk
    patient_id = register_through_the_api(client, desk)
    reader = factory.signed_desk(clinic.staff[Role.READ_ONLY], device_name="Reception 2")

    pulled = [
        record
        for page in pull_all(reader)
        for record in page["patients"]
        if record["id"] == str(patient_id)
    ]
    assert [record["phone"] for record in pulled] == [E164]


# --- a sealed value moved elsewhere does not open -------------------------------------


def test_a_number_copied_into_another_column_does_not_open_there(client, db, desk):
    patient_id = register_through_the_api(client, desk)
    sealed, _index = stored_phone(db, patient_id)
    store_raw(db, patient_id, email=sealed)

    email_as_sealed = type_coerce(Patient.__table__.c.email, EncryptedText("patients", "email"))
    with db() as session, pytest.raises(UnreadableField) as refused:
        session.execute(select(email_as_sealed).where(Patient.id == patient_id)).one()
    assert "patients.email" in str(refused.value)
    assert "CLINICDESK_FIELD_KEY" in str(refused.value)
    assert_no_number_in(str(refused.value).encode(), "the error")
    with pytest.raises(UnreadableField):
        crypto.field_keys().open(sealed, table="clinics", column="phone")


def test_an_altered_or_foreign_value_gives_an_error_not_garbage(client, db, desk):
    patient_id = register_through_the_api(client, desk)
    sealed, _index = stored_phone(db, patient_id)
    keys = crypto.field_keys()
    flipped = bytearray(sealed.encode())
    flipped[-3] = ord("A") if flipped[-3] != ord("A") else ord("B")
    foreign = FieldKeys.from_settings(Settings(field_key=SecretStr("f" * 40))).seal(
        E164, table="patients", column="phone"
    )

    for bad in (flipped.decode(), foreign, "not sealed at all", E164, ""):
        with pytest.raises(UnreadableField, match=r"patients\.phone"):
            keys.open(bad, table="patients", column="phone")

    store_raw(db, patient_id, phone=foreign)
    with db() as session, pytest.raises(UnreadableField):
        session.get(Patient, patient_id)


# --- the keys -------------------------------------------------------------------------------


def test_the_keys_come_from_the_field_key_or_else_from_the_secret_key():
    secret = "s" * 40
    from_secret = FieldKeys.from_settings(Settings(secret_key=secret))
    from_field_key = FieldKeys.from_settings(
        Settings(secret_key=secret, field_key=SecretStr(secret))
    )
    again = FieldKeys.from_settings(Settings(secret_key="x" * 40, field_key=SecretStr(secret)))

    assert from_field_key == again  # the field key alone decides, when it is set
    assert from_secret != from_field_key  # the same string, another derivation
    assert from_secret.sealing != from_secret.index  # two independent keys
    sealed = from_field_key.seal(E164, table="patients", column="phone")
    assert again.open(sealed, table="patients", column="phone") == E164
    with pytest.raises(UnreadableField):
        from_secret.open(sealed, table="patients", column="phone")


def test_a_short_field_key_is_refused_in_words():
    with pytest.raises(ValidationError, match=r"CLINICDESK_FIELD_KEY.*32"):
        Settings(field_key=SecretStr("short"))


def test_a_sealed_column_used_before_the_keys_are_set_says_what_to_do(monkeypatch):
    monkeypatch.setattr(crypto, "_keys", None)

    with pytest.raises(FieldKeysMissing, match=r"server\.crypto\.configure"):
        Patient(first_name="A", last_name="B", phone=E164)
    assert Patient(first_name="A", last_name="B", phone=None).phone_index is None


# --- numbers stored before are sealed by the migration --------------------------------


OLD_PATIENTS = table(
    "patients",
    column("id", Uuid()),
    column("clinic_id", Uuid()),
    column("version", BigInteger()),
    column("first_name", String()),
    column("last_name", String()),
    column("phone", String()),
    column("created_at", UTCDateTime()),
    column("modified_at", UTCDateTime()),
)
ANSWERS = table(
    "applied_mutations",
    *(column(name, Uuid()) for name in ("id", "clinic_id", "device_id", "mutation_id", "staff_id")),
    column("seq", BigInteger()),
    column("kind", String()),
    column("status", String()),
    column("result", Text()),
    column("created_at", UTCDateTime()),
    column("modified_at", UTCDateTime()),
)


def test_the_migration_seals_the_numbers_already_stored(database_url, db, factory):
    command.downgrade(alembic_config(database_url), BEFORE)
    try:
        clinic = factory.clinic("old", roles=(Role.FRONT_DESK,))
        plain = {"Ada": E164, "Old": TYPED, "Nobody": None}
        _store_the_old_way(db, clinic.front_desk, plain)
        migrate(database_url)
    finally:
        migrate(database_url)  # the schema back at head for the tests after, whatever happened

    with db() as session:
        rows = session.execute(
            select(RAW_PATIENTS.c.first_name, RAW_PATIENTS.c.phone, RAW_PATIENTS.c.phone_index)
        ).all()
        answer = session.scalar(select(ANSWERS.c.result))
        found = patients_with_phone(session, clinic.id, E164)
    keys = crypto.field_keys()
    stored = {name: phone for name, phone, _index in rows}
    assert stored["Nobody"] is None
    for name in ("Ada", "Old"):
        assert_no_number_in(stored[name].encode(), "a migrated phone")
        assert keys.open(stored[name], table="patients", column="phone") == plain[name]
    assert {name: index for name, _phone, index in rows} == {
        "Ada": keys.phone_index(E164),
        "Old": None,  # no country code: not found by a sender's number until retyped
        "Nobody": None,
    }
    assert [patient.first_name for patient in found] == ["Ada"]
    assert json.loads(answer)["patient"] is None  # the stored answer kept no record
    if database_url.startswith("sqlite"):
        db.kw["bind"].dispose()
        assert_no_number_in(sqlite_file_bytes(database_url), "the migrated SQLite file")


def _store_the_old_way(db, login, plain: dict[str, str | None]) -> None:
    """Patients as the schema before kept them: numbers in the clear, one typed before
    numbers were kept in E.164, and a stored answer to a desk carrying the record."""
    now = utcnow()
    with transaction(db) as session:
        device = Device(
            clinic_id=login.clinic_id,
            name="Reception",
            token_hash="0" * 64,
            enrolled_by_id=login.staff_id,
            expires_at=now,
        )
        session.add(device)
        session.flush()
        session.execute(
            insert(OLD_PATIENTS),
            [
                {
                    "id": uuid.uuid4(),
                    "clinic_id": login.clinic_id,
                    "version": 1000 + n,
                    "first_name": name,
                    "last_name": "Before",
                    "phone": phone,
                    "created_at": now,
                    "modified_at": now,
                }
                for n, (name, phone) in enumerate(plain.items())
            ],
        )
        session.execute(
            insert(ANSWERS).values(
                id=uuid.uuid4(),
                clinic_id=login.clinic_id,
                device_id=device.id,
                mutation_id=uuid.uuid4(),
                staff_id=login.staff_id,
                seq=1,
                kind="register_patient",
                status="applied",
                result=json.dumps({"status": "applied", "patient": {"phone": E164}}),
                created_at=now,
                modified_at=now,
            )
        )
