"""The Worklists page: every list staff must work through, one tab each, each tab
titled with what waits in it. The lists themselves know nothing of each other."""

from __future__ import annotations

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QTabWidget, QWidget

from desktop.worklists.attention import AttentionPage
from desktop.worklists.forms import IncompleteFormsPage
from desktop.worklists.leads import LeadsPage
from desktop.worklists.portal_invites import PortalInvitesPage
from desktop.worklists.requests import RequestsPage


def titled(name: str, count: int) -> str:
    return f"{name} ({count})" if count else name


class WorklistsPage(QTabWidget):
    def __init__(
        self,
        attention: AttentionPage,
        requests: RequestsPage,
        leads: LeadsPage | None = None,
        portal_invites: PortalInvitesPage | None = None,
        forms: IncompleteFormsPage | None = None,
    ) -> None:
        super().__init__()
        self.attention = attention
        self.requests = requests
        self.leads = leads
        self.addTab(attention, "Needs attention")
        self.addTab(requests, "Booking requests")
        self.counts: dict[QWidget, int] = {attention: 0, requests: 0}
        requests.count_changed.connect(self.show_requests)
        if leads is not None:
            self.addTab(leads, "Leads")
            self.counts[leads] = 0
            leads.count_changed.connect(self.show_leads)
        self.portal_invites = portal_invites
        if portal_invites is not None:
            self.addTab(portal_invites, "Portal invites")  # followed up, never counted
        self.forms = forms
        if forms is not None:
            # Counted on its tab only: forms wait on patients, not on staff.
            self.addTab(forms, "Incomplete forms")
            forms.count_changed.connect(self.show_forms)

    def show_attention(self, count: int) -> None:
        self.counts[self.attention] = count
        self.setTabText(self.indexOf(self.attention), titled("Needs attention", count))

    def show_requests(self, count: int) -> None:
        self.counts[self.requests] = count
        self.setTabText(self.indexOf(self.requests), titled("Booking requests", count))

    def show_leads(self, count: int) -> None:
        """New leads: enquiries nobody has answered yet."""
        if self.leads is not None:
            self.counts[self.leads] = count
            self.setTabText(self.indexOf(self.leads), titled("Leads", count))

    def show_forms(self, count: int) -> None:
        if self.forms is not None:
            self.setTabText(self.indexOf(self.forms), titled("Incomplete forms", count))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Opened from the navigation ("Worklists (3)"): show a list that has something
        in it rather than an empty one."""
        if not self.counts.get(self.currentWidget()):
            waiting = next((page for page, n in self.counts.items() if n), None)
            if waiting is not None:
                self.setCurrentWidget(waiting)
        super().showEvent(event)
