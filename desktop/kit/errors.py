"""One place that turns an error into words for staff.

Errors the desk expects (a refusal from the rules, the server out of reach, a form field
that does not parse) already carry words a receptionist can act on; anything else is a
fault in the desk itself, so it is logged with its traceback for whoever supports the
clinic, and staff get a short, calm sentence instead of a Python repr.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from PySide6.QtWidgets import QMessageBox, QWidget

from common.errors import DomainError

log = logging.getLogger("desktop")

UNEXPECTED = (
    "Something went wrong on this desk, and it has been logged. Nothing you saved before "
    "was lost; please try again."
)


def words(error: BaseException) -> str:
    """What to tell staff about ``error``; an unexpected one is logged here, once."""
    if isinstance(error, DomainError):
        return error.message
    if isinstance(error, ValidationError):
        return _first_problem(error)
    log.error("unexpected error on the desk", exc_info=error)
    return UNEXPECTED


def show(parent: QWidget | None, title: str, error: BaseException) -> QMessageBox:
    """A window-modal message about ``error``. Opened, not exec'd: the desk goes on
    painting and syncing behind it, and a test can read and close it."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, words(error), parent=parent)
    box.setObjectName("errorMessage")
    box.open()
    return box


def _first_problem(error: ValidationError) -> str:
    problems = error.errors()
    if not problems:
        return "Please check what you typed."
    first = problems[0]
    where = " ".join(str(part).replace("_", " ") for part in first.get("loc", ()) if part)
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"Please check {where}: {message}" if where else message
