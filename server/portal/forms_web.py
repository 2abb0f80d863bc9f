"""The portal's forms: the forms the clinic sent the holder and their family members,
filled in on a phone a page at a time, checked, and sent.

A form is answered page by page (``FormDefinition.pages``): each "Save and continue"
saves its page through ``forms.service.save_page``, so a form closed half-way opens
again at the first page not fully answered, with every answer kept. A page the rules
refuse is drawn again with each problem beside its field and what was typed still in
it (nothing of it saved). The last page leads to a review of every answer; "Send to the
clinic" completes the form, after which it reads as sent and cannot be changed.

With JavaScript, a page saves each answer as it changes (the same POST, asked by
``fetch`` with ``X-Requested-With``, answered 204 or JSON), so a phone that locks or a
tab closed loses nothing; without it, every button still saves.

A GET never saves. A clinic admin viewing the portal as the patient reads the forms
(every read audited under both names) but does not fill them in or sign them: a
signature is the patient's own.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData

from common.errors import Conflict, Forbidden, NotFound
from common.forms import ANSWER_LENGTH, FormStatus
from server.audit import service as audit
from server.db import utcnow
from server.deps import DatabaseDep, SettingsDep
from server.forms import service
from server.portal import forms
from server.portal.viewer import PortalViewer, Viewer, see_other
from server.scheduling.service import clinic_zone
from server.web import limits
from server.web.pages import READ, WebRoute, render
from server.web.security import CheckedForm

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ANSWER = "a-"  # a question's field: "a-" and the question's id
FETCHED = "fetch"  # the X-Requested-With of the page's own autosave
MOVES = ("next", "back", "later")
NOT_WHILE_VIEWING = (
    "A form's answers and signature are the patient's own: while you view the portal as "
    "the patient, you can read their forms, not fill them in or sign them."
)
UPDATED = service.VERSION_CHANGED


def _url(viewer: Viewer, request_id: uuid.UUID) -> str:
    return f"{viewer.base()}/forms/{request_id}"


def _read(db: DatabaseDep, viewer: Viewer, opened: service.Opened, what: str) -> None:
    audit.read(
        db,
        viewer.ctx(opened.request.patient_id),
        entity="form_requests",
        entity_id=opened.request.id,
        reason=f"{what} of the form “{opened.request.title}”, read by {viewer.actor()}",
    )


def _open(db: DatabaseDep, viewer: Viewer, request_id: str) -> service.Opened:
    wanted = forms.request_id_of(request_id)
    with db.reading() as session:
        return forms.opened(session, viewer, wanted)


def _page_context(viewer: Viewer, **context: Any) -> dict[str, Any]:
    return {"viewer": viewer, "section": "forms", **context}


def _missing(request: Request, viewer: Viewer, message: str) -> Response:
    """A form that is not (or no longer) there: a page in words, in the portal."""
    return render(
        request,
        "portal/form_missing.html",
        _page_context(viewer, message=message),
        brand=viewer.brand,
        private=True,
        status=404,
    )


# --- the list ---------------------------------------------------------------------------


@router.api_route("/portal/{slug}/forms", methods=READ, response_class=HTMLResponse)
def listing(
    slug: str, request: Request, db: DatabaseDep, viewer: PortalViewer, saved: str = ""
) -> Response:
    with db.reading() as session:
        every = forms.listed(session, viewer)
    audit.read(
        db,
        viewer.ctx(),
        entity="form_requests",
        record_count=len(every),
        reason=f"forms of the account's people, read by {viewer.actor()}",
    )
    groups = []
    for person in viewer.people:
        theirs = [f for f in every if f.person.patient_id == person.patient_id]
        if theirs or person is viewer.holder:
            groups.append(
                {
                    "person": person,
                    "open": [f for f in reversed(theirs) if f.open],
                    "done": [f for f in theirs if not f.open],
                }
            )
    return render(
        request,
        "portal/forms.html",
        _page_context(viewer, groups=groups, saved=saved[:120]),
        brand=viewer.brand,
        private=True,
    )


# --- one page of a form -----------------------------------------------------------------


def _answers_page(
    request: Request,
    db: DatabaseDep,
    viewer: Viewer,
    opened: service.Opened,
    *,
    problem: str = "",
    status: int = 200,
) -> Response:
    """A form read, not filled in: a sent one's answers, or any form an admin viewing as
    the patient opens."""
    _read(db, viewer, opened, "the answers")
    with db.reading() as session:
        zone = clinic_zone(session, viewer.clinic_id)
    completed = opened.request.completed_at
    return render(
        request,
        "portal/form_answers.html",
        _page_context(
            viewer,
            opened=opened,
            person=forms.person_of(viewer, opened.request),
            complete=opened.request.status is FormStatus.COMPLETE,
            completed=f"{completed.astimezone(zone):%d/%m/%Y}" if completed else "",
            answers=[
                (q, forms.words(q, opened.answers.get(q.id), zone)) for q in opened.form.questions
            ],
            problem=problem,
        ),
        brand=viewer.brand,
        private=True,
        status=status,
    )


def _fill_page(
    request: Request,
    db: DatabaseDep,
    viewer: Viewer,
    opened: service.Opened,
    number: int,
    *,
    typed: dict[str, list[str]] | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    pages = opened.form.pages()
    number = min(max(number, 1), len(pages))
    questions = pages[number - 1]
    person = forms.person_of(viewer, opened.request)
    _read(db, viewer, opened, f"page {number}")
    # Drawn again after a refusal, the page shows what was sent, as sent (a box left
    # unticked included); otherwise the answers saved.
    values = {
        q.id: typed.get(q.id, [])
        if typed is not None
        else forms.field_values(q, opened.answers.get(q.id))
        for q in questions
    }
    return render(
        request,
        "portal/form_page.html",
        _page_context(
            viewer,
            opened=opened,
            person=person,
            for_name=person.name if person != viewer.holder else "",
            number=number,
            count=len(pages),
            questions=questions,
            values=values,
            errors={q.id: errors[q.id] for q in questions if errors and q.id in errors},
            signers=forms.signers(viewer, person),
            notice=notice,
            form_url=_url(viewer, opened.request.id),
        ),
        brand=viewer.brand,
        private=True,
        status=status,
    )


def _number(text: object) -> int | None:
    value = text.strip() if isinstance(text, str) else ""
    if value.isascii() and value.isdigit() and len(value) <= 3:
        return int(value)
    return None


@router.api_route("/portal/{slug}/forms/{request_id}", methods=READ, response_class=HTMLResponse)
def form_page(
    slug: str,
    request_id: str,
    request: Request,
    db: DatabaseDep,
    viewer: PortalViewer,
    page: str | None = None,
) -> Response:
    """A page of the form (``?page=N``; without it, where the patient left off), or a
    sent form's answers. Reading changes nothing: the version a form shows is pinned
    only when its first answer is saved."""
    try:
        opened = _open(db, viewer, request_id)
    except NotFound as missing:
        return _missing(request, viewer, missing.message)
    if opened.request.status is FormStatus.COMPLETE or viewer.impersonating:
        return _answers_page(request, db, viewer, opened)
    number = _number(page)
    if number is None:
        number = forms.resume_page(opened.form, opened.answers)
        if number is None:
            return see_other(f"{_url(viewer, opened.request.id)}/review")
    return _fill_page(request, db, viewer, opened, number)


def _submitted(form: FormData) -> dict[str, list[str]]:
    return {
        key[len(ANSWER) :]: [
            str(v)[: 2 * ANSWER_LENGTH] for v in form.getlist(key) if isinstance(v, str)
        ]
        for key in form
        if key.startswith(ANSWER)
    }


def _signing(
    request: Request, settings: SettingsDep, viewer: Viewer, opened: service.Opened
) -> service.Signing:
    return service.Signing(
        forms.signers(viewer, forms.person_of(viewer, opened.request)),
        limits.address_hash(request, settings),
    )


def _json(status: int, message: str, refused: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"message": message, "refused": refused or {}},
        status_code=status,
        headers={"cache-control": "no-store"},
    )


@router.post("/portal/{slug}/forms/{request_id}", response_class=HTMLResponse)
def save(
    slug: str,
    request_id: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    """Save one page, then go on (``go``: next, back, or later: to the list). Asked by
    the page's own script (one answer as it changes), the answer is 204 or JSON."""
    fetched = request.headers.get("x-requested-with") == FETCHED
    if viewer.impersonating:
        if fetched:
            return _json(403, NOT_WHILE_VIEWING)
        raise Forbidden(NOT_WHILE_VIEWING)
    try:
        opened = _open(db, viewer, request_id)
    except NotFound as missing:
        if fetched:
            return _json(404, missing.message)
        return _missing(request, viewer, missing.message)
    if opened.request.status is FormStatus.COMPLETE:
        if fetched:
            return _json(409, service.COMPLETE_ALREADY)
        return _answers_page(
            request, db, viewer, opened, problem=service.COMPLETE_ALREADY, status=409
        )
    pages = opened.form.pages()
    number = min(max(_number(form.get("page")) or 1, 1), len(pages))
    go = str(form.get("go") or "next")
    go = go if go in MOVES else "next"
    typed = _submitted(form)
    if _number(form.get("version")) != opened.version.number:
        # Opened under a version since replaced (only before the first answer pinned
        # one): its questions may not be these, so nothing is saved.
        if fetched:
            return _json(409, UPDATED)
        return _fill_page(
            request, db, viewer, opened, number, typed=typed, notice=UPDATED, status=409
        )
    questions = pages[number - 1]
    ids = [q.id for q in questions]
    only = str(form.get("only") or "")
    if fetched and only in ids:
        ids = [only]
    try:
        with db.writing() as session:
            saved = service.save_page(
                session,
                viewer.ctx(opened.request.patient_id),
                opened.request.id,
                forms.people_ids(viewer),
                typed,
                ids,
                signing=_signing(request, settings, viewer, opened),
                now=utcnow(),
                account_id=viewer.account_id,
                expected_version=opened.version.number,
            )
    except service.VersionChanged:
        if fetched:
            return _json(409, UPDATED)
        return _fill_page(
            request, db, viewer, _open(db, viewer, request_id), 1, typed=typed, notice=UPDATED,
            status=409,
        )  # fmt: skip
    except service.PageRefused as refused:
        if fetched:
            return _json(422, refused.message, refused.refused)
        errors = dict(refused.refused)
        if go == "next":  # every problem of the page at once: the empty ones too
            for q in questions:
                empty = not any(v.strip() for v in typed.get(q.id, []))
                if q.required and empty and q.id not in errors:
                    errors[q.id] = forms.required_words(q)
        return _fill_page(
            request, db, viewer, opened, number, typed=typed, errors=errors, status=422
        )
    except Conflict as closed:  # sent meanwhile (in another tab)
        if fetched:
            return _json(409, closed.message)
        return _answers_page(
            request, db, viewer, _open(db, viewer, request_id), problem=closed.message, status=409
        )
    except NotFound as missing:  # withdrawn meanwhile
        if fetched:
            return _json(404, missing.message)
        return _missing(request, viewer, missing.message)
    if fetched:
        return Response(status_code=204, headers={"cache-control": "no-store"})
    url = _url(viewer, opened.request.id)
    if go == "later":
        return see_other(f"{viewer.base()}/forms?saved={opened.request.id}")
    if go == "back":
        return see_other(f"{url}?page={max(number - 1, 1)}")
    needed = {
        q.id: forms.required_words(q)
        for q in questions
        if q.required and not forms.answered(q, saved.answers)
    }
    if needed:
        return _fill_page(request, db, viewer, saved, number, errors=needed, status=422)
    if number < len(pages):
        return see_other(f"{url}?page={number + 1}")
    return see_other(f"{url}/review")


# --- review and send --------------------------------------------------------------------


def _review_page(
    request: Request,
    db: DatabaseDep,
    viewer: Viewer,
    opened: service.Opened,
    *,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    _read(db, viewer, opened, "the review")
    with db.reading() as session:
        zone = clinic_zone(session, viewer.clinic_id)
    person = forms.person_of(viewer, opened.request)
    errors = errors or {}
    pages = [
        [(q, forms.words(q, opened.answers.get(q.id), zone), errors.get(q.id, "")) for q in page]
        for page in opened.form.pages()
    ]
    return render(
        request,
        "portal/form_review.html",
        _page_context(
            viewer,
            opened=opened,
            for_name=person.name if person != viewer.holder else "",
            pages=pages,
            problems=[
                (q, forms.page_of(opened.form, q.id), errors[q.id])
                for q in opened.form.questions
                if q.id in errors
            ],
            form_url=_url(viewer, opened.request.id),
            notice=notice,
        ),
        brand=viewer.brand,
        private=True,
        status=status,
    )


@router.api_route(
    "/portal/{slug}/forms/{request_id}/review", methods=READ, response_class=HTMLResponse
)
def review(
    slug: str, request_id: str, request: Request, db: DatabaseDep, viewer: PortalViewer
) -> Response:
    try:
        opened = _open(db, viewer, request_id)
    except NotFound as missing:
        return _missing(request, viewer, missing.message)
    if opened.request.status is FormStatus.COMPLETE or viewer.impersonating:
        return _answers_page(request, db, viewer, opened)
    return _review_page(request, db, viewer, opened)


@router.post("/portal/{slug}/forms/{request_id}/send", response_class=HTMLResponse)
def send(
    slug: str,
    request_id: str,
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    viewer: PortalViewer,
    form: CheckedForm,
) -> Response:
    """Send the form: every required answer must be there. Sent twice (a double tap, the
    back button), the second finds it sent and shows the same thanks."""
    if viewer.impersonating:
        raise Forbidden(NOT_WHILE_VIEWING)
    try:
        opened = _open(db, viewer, request_id)
    except NotFound as missing:
        return _missing(request, viewer, missing.message)
    thanks = see_other(f"{_url(viewer, opened.request.id)}/sent")
    if opened.request.status is FormStatus.COMPLETE:
        return thanks
    try:
        with db.writing() as session:
            service.save_page(
                session,
                viewer.ctx(opened.request.patient_id),
                opened.request.id,
                forms.people_ids(viewer),
                {},
                [],
                signing=_signing(request, settings, viewer, opened),
                now=utcnow(),
                complete=True,
                account_id=viewer.account_id,
                expected_version=_number(form.get("version")),
            )
    except service.VersionChanged:
        return _review_page(
            request, db, viewer, _open(db, viewer, request_id), notice=UPDATED, status=409
        )
    except service.PageRefused as refused:
        return _review_page(
            request, db, viewer, _open(db, viewer, request_id), errors=refused.refused, status=422
        )
    except Conflict:  # the other submission sent it
        return thanks
    except NotFound as missing:
        return _missing(request, viewer, missing.message)
    return thanks


@router.api_route(
    "/portal/{slug}/forms/{request_id}/sent", methods=READ, response_class=HTMLResponse
)
def sent(
    slug: str, request_id: str, request: Request, db: DatabaseDep, viewer: PortalViewer
) -> Response:
    try:
        opened = _open(db, viewer, request_id)
    except NotFound as missing:
        return _missing(request, viewer, missing.message)
    if opened.request.status is not FormStatus.COMPLETE:
        return see_other(_url(viewer, opened.request.id))
    _read(db, viewer, opened, "the thanks for sending")
    with db.reading() as session:
        waiting = [
            f
            for f in forms.listed(session, viewer, open_only=True)
            if f.request_id != opened.request.id
        ]
    return render(
        request,
        "portal/form_sent.html",
        _page_context(
            viewer, opened=opened, waiting=waiting, form_url=_url(viewer, opened.request.id)
        ),
        brand=viewer.brand,
        private=True,
    )
