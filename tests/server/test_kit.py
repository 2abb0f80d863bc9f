"""The kit every module uses: clinic-scoped lookups (another clinic's row and a tombstone
are simply not there), the stale check, and answering with a model."""

from __future__ import annotations

import json
import uuid

import pytest

from common.errors import InvalidInput, NotFound, StaleVersion
from common.roles import Role
from server import kit
from server.db import transaction, utcnow
from server.idempotency import service as idempotency
from server.patients.models import Patient
from server.scheduling.models import Provider
from sync.protocol import ProviderRecord


@pytest.fixture
def two_clinics(factory):
    mine = factory.clinic("elm", roles=(Role.FRONT_DESK,), providers=2, patients=1)
    theirs = factory.clinic("yew", roles=(Role.FRONT_DESK,), providers=1, patients=1)
    return mine, theirs


def test_a_live_row_of_the_clinic_is_found(db, two_clinics):
    mine, _ = two_clinics
    provider_id = mine.records.provider_ids[0]
    with db() as session:
        provider = kit.live(session, Provider, mine.id, provider_id, what="provider")
    assert provider.id == provider_id


def test_another_clinics_row_is_not_found_in_words(db, two_clinics):
    mine, theirs = two_clinics
    with db() as session:
        assert kit.find(session, Provider, mine.id, theirs.records.provider_ids[0]) is None
        with pytest.raises(NotFound) as missing:
            kit.live(session, Provider, mine.id, theirs.records.provider_ids[0], what="provider")
        with pytest.raises(NotFound):
            kit.require_live(
                session, Patient, mine.id, theirs.records.patient_ids[0], what="patient"
            )
    assert missing.value.message == "There is no such provider in this clinic."


def test_a_tombstone_is_found_only_when_asked_for(db, two_clinics):
    mine, _ = two_clinics
    provider_id = mine.records.provider_ids[1]
    with transaction(db) as session:
        provider = session.get(Provider, provider_id)
        assert provider is not None
        provider.deleted_at = utcnow()
    with db() as session:
        assert kit.find(session, Provider, mine.id, provider_id) is None
        with pytest.raises(NotFound):
            kit.require_live(session, Provider, mine.id, provider_id, what="provider")
        kept = kit.find(session, Provider, mine.id, provider_id, include_deleted=True)
    assert kept is not None
    assert kept.deleted_at is not None


def test_a_change_based_on_an_old_version_is_stale(db, two_clinics):
    mine, _ = two_clinics
    provider_id = mine.records.provider_ids[0]
    with db() as session:
        version = kit.live(session, Provider, mine.id, provider_id, what="provider").version
    with transaction(db) as session:
        changed = kit.for_change(
            session, Provider, mine.id, provider_id, version, None, what="provider", stale="x"
        )
        changed.display_name = "Dr Renamed"
    with transaction(db) as session, pytest.raises(StaleVersion) as stale:
        kit.for_change(
            session,
            Provider,
            mine.id,
            provider_id,
            version,
            None,
            what="provider",
            stale="Someone else changed this provider in the meantime.",
        )
    assert stale.value.message == "Someone else changed this provider in the meantime."


def test_json_response_serialises_a_model_and_a_list(db, two_clinics):
    mine, _ = two_clinics
    with db() as session:
        provider = kit.live(session, Provider, mine.id, mine.records.provider_ids[0], what="p")
        record = ProviderRecord.model_validate(provider, from_attributes=True)

    one = kit.json_response(record, 201)
    many = kit.json_response([record, record])
    none = kit.json_response([])

    assert one.status_code == 201
    assert one.media_type == "application/json"
    assert json.loads(one.body)["id"] == str(provider.id)
    assert [item["id"] for item in json.loads(many.body)] == [str(provider.id)] * 2
    assert json.loads(none.body) == []


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "1 to 200 characters"),
        ("k" * 201, "1 to 200 characters"),
        ("caf\u00e9", "printable ASCII"),
        ("tab\there", "printable ASCII"),
    ],
)
def test_a_bad_idempotency_key_is_refused_in_words(raw, words):
    with pytest.raises(InvalidInput) as refused:
        idempotency.check_key(raw, required=True)
    assert words in refused.value.message


def test_an_idempotency_key_is_required_only_where_asked():
    assert idempotency.check_key(None, required=False) is None
    with pytest.raises(InvalidInput, match="header is required"):
        idempotency.check_key(None, required=True)


def test_the_same_request_in_another_form_has_the_same_fingerprint():
    same = idempotency.fingerprint("book", {"a": 1, "b": [1, 2]})
    assert same == idempotency.fingerprint("book", {"b": [1, 2], "a": 1})
    assert same != idempotency.fingerprint("move", {"a": 1, "b": [1, 2]})


def test_a_key_claimed_once_is_replayed_and_refused_for_another_request(db, two_clinics):
    mine, _ = two_clinics
    key = str(uuid.uuid4())
    with transaction(db) as session:
        claimed = idempotency.claim(session, mine.id, key, "f" * 64)
        assert not claimed.replay
        idempotency.settle(session, claimed, status_code=409, response={"code": "slot_taken"})
    with transaction(db) as session:
        again = idempotency.claim(session, mine.id, key, "f" * 64)
        assert again.replay
        assert again.id == claimed.id
        assert again.status_code == 409
        assert idempotency.stored_response(again) == {"code": "slot_taken"}
    with transaction(db) as session, pytest.raises(InvalidInput, match="different request"):
        idempotency.claim(session, mine.id, key, "e" * 64)
