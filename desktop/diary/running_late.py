"""Running late: text a provider's later patients of the day that the clinic runs behind.

The dialog says how many patients will be told before anything is sent, counted in this
desk's diary as the server counts them (each appointment still expected, booked or
confirmed, from now until the day ends, gets a text; a patient with no mobile number
cannot be told); the server finds them again when the change reaches it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from desktop.kit.combo import choose
from desktop.kit.tasks import TaskRunner
from sync.messages import LaterPatients
from sync.store import ProviderRow, Store

SHORTEST, LONGEST, USUAL = 5, 240, 15  # minutes


def end_of_day(moment: datetime, zone: ZoneInfo) -> datetime:
    """The next local midnight after ``moment``, as an instant."""
    tomorrow = moment.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=zone).astimezone(UTC)


def patients(count: int) -> str:
    return "1 patient" if count == 1 else f"{count} patients"


def summary(
    later: LaterPatients, provider: str, minutes: int, after: datetime, zone: ZoneInfo
) -> str:
    at = f"{after.astimezone(zone):%H:%M}"
    if not later.texted and not later.no_number:
        return f"No patients are expected with {provider} after {at} today: nobody to tell."
    unreachable = (
        f"{patients(later.no_number)} with no mobile number on file cannot be told."
        if later.no_number
        else ""
    )
    if not later.texted:
        are = "is" if later.no_number == 1 else "are"
        return (
            f"{patients(later.no_number)} {are} expected with {provider} after {at} today, "
            "with no mobile number on file: nobody can be told by text."
        )
    told = (
        f"{patients(later.texted)} expected with {provider} after {at} today will get a "
        f"text that the clinic is running about {minutes} minutes late."
    )
    return f"{told} {unreachable}".strip()


class RunningLateDialog(QDialog):
    def __init__(
        self,
        runner: TaskRunner,
        store: Store,
        zone: ZoneInfo,
        providers: list[ProviderRow],
        provider_id: uuid.UUID | None,
        now: datetime,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Running late")
        self.runner, self.store, self.zone, self.now = runner, store, zone, now
        self.count: LaterPatients | None = None
        self.provider = QComboBox()
        for provider in providers:
            self.provider.addItem(provider.display_name, provider.id)
        choose(self.provider, provider_id)
        self.minutes = QSpinBox()
        self.minutes.setRange(SHORTEST, LONGEST)
        self.minutes.setSingleStep(5)
        self.minutes.setValue(USUAL)
        self.minutes.setSuffix(" min")
        self.summary = QLabel("Counting the patients still expected…")
        self.summary.setObjectName("runningLateSummary")
        self.summary.setWordWrap(True)
        # Room for the whole explanation from the start: a dialog does not grow on its own
        # when a wrapped label's words arrive later (the count is read on the db lane).
        self.summary.setMinimumHeight(self.summary.fontMetrics().lineSpacing() * 4)
        self.setMinimumWidth(460)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Tell them")
        self.ok_button.setEnabled(False)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Provider", self.provider)
        form.addRow("About", self.minutes)
        form.addRow(self.summary)
        form.addRow(buttons)
        self.provider.currentIndexChanged.connect(lambda _index: self.recount())
        self.minutes.valueChanged.connect(lambda _value: self._say())
        self.recount()

    def provider_id(self) -> uuid.UUID | None:
        chosen = self.provider.currentData()
        return chosen if isinstance(chosen, uuid.UUID) else None

    def recount(self) -> None:
        provider_id, store = self.provider_id(), self.store
        self.count = None
        self.ok_button.setEnabled(False)
        if provider_id is None:
            self.summary.setText("There is no provider to choose.")
            return
        until = end_of_day(self.now, self.zone)
        self.runner.run(
            "db",
            lambda: store.later_patients(provider_id, self.now, until),
            lambda count: self._counted(provider_id, count),
        )

    def _counted(self, provider_id: uuid.UUID, count: LaterPatients) -> None:
        if provider_id != self.provider_id():
            return  # another provider was chosen meanwhile
        self.count = count
        self._say()

    def _say(self) -> None:
        if self.count is None:
            return
        self.summary.setText(
            summary(
                self.count, self.provider.currentText(), self.minutes.value(), self.now, self.zone
            )
        )
        self.ok_button.setEnabled(self.count.texted > 0)
