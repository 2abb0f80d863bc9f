"""The published OpenAPI schema, made to say what the server really does.

FastAPI describes each route from its signature: the success answer, and a validation
error in its own shape. What the server answers besides (refusals from the auth
dependencies, typed ``common.errors`` from the services, 413 from the body limit, 500
from the edge) and how callers authenticate are added here, once, from what each route
depends on, so endpoints need not repeat it in their decorators and a new route gets it
by being written the usual way.

Every error answer is ``ErrorBody`` (``{code, message}``). Statuses are documented where
they occur:

- 401 on every route that needs a workstation or a signed-in person, and on sign-in;
- 403 on every route acting for a person or workstation (the role is checked);
- 404 on routes that name a record in their path, and those in ``LOOKS_UP``;
- 409 on the booking routes (taken slots, stale versions, a decided request);
- 413 on routes that take a body; 422 wherever something is sent; 426 on the sync
  routes (protocol header); 429 on the routes that check a password (throttling);
  500 everywhere (answered by ``server.http``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from server import deps
from server.idempotency.service import KEY_HEADER, MAX_KEY_LENGTH
from sync.protocol import (
    API_PREFIX,
    DEVICE_TOKEN_HEADER,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    ErrorBody,
)

STAFF_SCHEME = "staffSession"
DEVICE_SCHEME = "workstation"
SECURITY_SCHEMES: dict[str, Any] = {
    STAFF_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": "The session token a staff member got by signing in (POST /sessions).",
    },
    DEVICE_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": DEVICE_TOKEN_HEADER,
        "description": "The token an enrolled workstation got once (POST /devices).",
    },
}
# Which dependency asks for which credentials (alternatives: any one of them will do).
STAFF_ONLY: list[dict[str, list[str]]] = [{STAFF_SCHEME: []}]
DEVICE_ONLY: list[dict[str, list[str]]] = [{DEVICE_SCHEME: []}]
CREDENTIALS: dict[Callable[..., Any], list[dict[str, list[str]]]] = {
    deps.staff_context: STAFF_ONLY,
    deps.device_context: DEVICE_ONLY,
    deps.sync_context: [{STAFF_SCHEME: []}, {DEVICE_SCHEME: []}],
}
# Dependencies that give the route an ``AuthContext``, whose role the route checks.
ACTING_FOR_SOMEONE = {
    deps.staff_context,
    deps.device_context,
    deps.sync_context,
}
# Header parameters that carry credentials: described as security schemes instead.
CREDENTIAL_HEADERS = {"authorization", DEVICE_TOKEN_HEADER.lower()}

# What routes do beyond what their dependencies show, by (method, path).
CHECKS_PASSWORD = {("POST", f"{API_PREFIX}/devices"), ("POST", f"{API_PREFIX}/sessions")}
LOOKS_UP = {  # look up records named in the query or body (404 when not in the clinic)
    ("POST", f"{API_PREFIX}/appointments"),
    ("GET", f"{API_PREFIX}/availability"),
    ("POST", f"{API_PREFIX}/practice-profile/preview-link"),  # no page yet
    ("POST", f"{API_PREFIX}/leads/{{lead_id}}/convert"),
    ("PUT", f"{API_PREFIX}/prices"),  # an appointment type not in the clinic
}
CONFLICTS = {
    ("POST", f"{API_PREFIX}/appointments"),
    ("POST", f"{API_PREFIX}/appointments/{{appointment_id}}/move"),
    ("POST", f"{API_PREFIX}/booking-requests/{{request_id}}/confirm"),
    ("POST", f"{API_PREFIX}/booking-requests/{{request_id}}/reject"),
    ("PUT", f"{API_PREFIX}/practice-profile"),  # the address taken meanwhile
    ("POST", f"{API_PREFIX}/leads/{{lead_id}}/contacted"),
    ("POST", f"{API_PREFIX}/leads/{{lead_id}}/discard"),
    ("POST", f"{API_PREFIX}/leads/{{lead_id}}/convert"),
    # Bills: an appointment invoiced already, a bill paid or void, an id used before.
    ("POST", f"{API_PREFIX}/patients/{{patient_id}}/invoices"),
    ("POST", f"{API_PREFIX}/appointments/{{appointment_id}}/invoice"),
    ("POST", f"{API_PREFIX}/invoices/{{invoice_id}}/payments"),
    ("POST", f"{API_PREFIX}/invoices/{{invoice_id}}/void"),
}
EVENT_STREAMS = {("GET", f"{API_PREFIX}/sync/events")}  # answered as server-sent events
# Each event: "hello" on connecting, then "changed" (something to pull) or "requests" (the
# pending booking requests or the leads changed), with the clinic's latest version.
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["hello", "changed", "requests"]},
        "data": {"type": "string", "pattern": "^[0-9]+$"},
    },
}
REQUIRED_HEADERS = {("POST", f"{API_PREFIX}/appointments"): {KEY_HEADER}}

# Rules the code enforces on a parameter, wherever it appears, as JSON Schema.
PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    PROTOCOL_HEADER: {"type": "string", "enum": [str(PROTOCOL_VERSION - 1), str(PROTOCOL_VERSION)]},
    KEY_HEADER: {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": "^[ -~]+$",  # printable ASCII
    },
    # "epoch.version" as the server handed it out; empty or absent: from the start.
    "cursor": {"type": "string", "maxLength": 64, "pattern": r"^([0-9]+\.[0-9]+)?$"},
}

DESCRIPTIONS = {
    401: "Not enrolled or not signed in, or the enrollment or session has ended.",
    403: "The caller's role does not allow this.",
    404: "No such record in the caller's clinic.",
    409: "The record changed or the slot is taken meanwhile, or the request was decided "
    "(or the lead moved on).",
    413: "The request body is larger than the server accepts.",
    422: "Something sent is not valid, or breaks a rule (say, an end before its start).",
    426: "This desk speaks a sync protocol the server no longer does: upgrade it.",
    429: "Too many sign-in attempts, or the server is busy checking passwords: wait "
    "as long as Retry-After says.",
    500: "An unexpected error on the server (logged).",
}
ERROR_SCHEMA_NAME = ErrorBody.__name__


def install(app: FastAPI) -> None:
    """Serve the completed schema from ``/openapi.json`` (built once, on first use)."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(app, _generated(app))
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


def _generated(app: FastAPI) -> dict[str, Any]:
    return get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )


def complete(app: FastAPI, spec: dict[str, Any]) -> dict[str, Any]:
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas[ERROR_SCHEMA_NAME] = ErrorBody.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    components["securitySchemes"] = SECURITY_SCHEMES
    # Each route as included (prefix and the router's own dependencies added), as
    # FastAPI itself walks them to build the schema.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = spec["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _complete_operation(route, method, operation)
    _discriminators_required(schemas)
    # FastAPI's own validation error shapes are never sent (see server.app).
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return spec


def _complete_operation(route: RouteContext, method: str, operation: dict[str, Any]) -> None:
    key = (method, str(route.path_format))
    calls = set(_dependency_calls(route.dependant))
    security = next((CREDENTIALS[call] for call in calls if call in CREDENTIALS), None)
    if security is not None:
        operation["security"] = security

    parameters = [
        p
        for p in operation.get("parameters", [])
        if not (p["in"] == "header" and p["name"].lower() in CREDENTIAL_HEADERS)
    ]
    for parameter in parameters:
        if parameter["name"] in PARAMETER_SCHEMAS:
            parameter["schema"] = PARAMETER_SCHEMAS[parameter["name"]]
        if parameter["name"] in REQUIRED_HEADERS.get(key, set()):
            parameter["required"] = True
    if parameters:
        operation["parameters"] = parameters
    else:
        operation.pop("parameters", None)

    statuses = {500}
    if security is not None or key in CHECKS_PASSWORD:
        statuses.add(401)
    if calls & ACTING_FOR_SOMEONE:
        statuses.add(403)
    if route.param_convertors or key in LOOKS_UP:
        statuses.add(404)
    if key in CONFLICTS:
        statuses.add(409)
    if "requestBody" in operation:
        statuses.update({413, 422})
    if parameters:
        statuses.add(422)
    if deps.check_protocol in calls:
        statuses.add(426)
    if key in CHECKS_PASSWORD:
        statuses.add(429)  # throttled, or too many password checks waiting

    responses: dict[str, Any] = operation.setdefault("responses", {})
    if key in EVENT_STREAMS:
        responses["200"]["content"] = {"text/event-stream": {"schema": EVENT_SCHEMA}}
    if "422" in responses and not parameters and "requestBody" not in operation:
        del responses["422"]  # only credential headers were sent, and they answer 401
    for status in sorted(statuses):
        answer = responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
        content = answer.setdefault("content", {}).setdefault("application/json", {})
        if status == 422 or "schema" not in content:
            # 422 is the shared error body, never FastAPI's own validation error shape.
            content["schema"] = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}


def _discriminators_required(schemas: dict[str, Any]) -> None:
    """A command's ``kind`` has a default (so Python code need not repeat it), which
    makes it optional in the generated schema; but the server tells commands apart by
    it, so on the wire it is required."""
    for found in _walk(schemas):
        discriminator = found.get("discriminator")
        if not isinstance(discriminator, dict):
            continue
        name = discriminator["propertyName"]
        for reference in discriminator.get("mapping", {}).values():
            target = schemas[reference.rsplit("/", 1)[-1]]
            if name not in target.setdefault("required", []):
                target["required"].insert(0, name)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependency_calls(dependency)
