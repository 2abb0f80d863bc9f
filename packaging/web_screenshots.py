"""Take the README's pictures of the patients' pages: real Chromium on a phone-sized
screen, against a real demo server.

- ``web-link.png``: a booking link sent from a patient's file, as the patient sees it:
  the welcome page, the times, the confirmation (three phone screens side by side).
- ``web-widget.png``: the booking widget: the kind of appointment, the times, the
  patient's details.
- ``portal.png``: the patient portal of the demo's account holder: home with the next
  appointments, an appointment with its buttons, the times to book.
- ``portal-form.png``: the clinic's intake questionnaire in the portal: home with the
  forms to fill in, a page of questions, the review before sending.

Run by ``make screenshots``.
"""

from __future__ import annotations

import base64
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select

from server.clinics.models import Clinic
from server.db import transaction
from server.demo import (
    DEMO_PORTAL_EMAIL,
    DEMO_PORTAL_PASSWORD,
    DEMO_SLUG,
    FRONT_DESK,
    seed_demo_forms,
    seed_demo_online,
    seed_demo_portal,
)
from server.patients.models import Patient
from sync.client import ServerClient
from tests.support.browser import CHROMIUM, FLAGS, PHONE
from tests.support.live_server import LiveServer

SCREEN = {"width": 390, "height": 780}


def _client(server: LiveServer, email: str, password: str) -> ServerClient:
    client = ServerClient(server.url)
    client.device_token = client.enroll(DEMO_SLUG, email, password, "Screenshots").device_token
    client.session_token = client.sign_in(email, password).session_token
    return client


def _link_url(server: LiveServer) -> str:
    """Reception sends the demo's booking-link rule to a patient, as from the file."""
    desk = _client(server, FRONT_DESK.email, FRONT_DESK.password)
    rule = next(r for r in desk.broadcast_rules() if r.title == "Review consultation")
    with server.sessionmaker() as session:
        patient_id = session.scalars(
            select(Patient.id)
            .where(Patient.phone_index.is_not(None), Patient.date_of_birth.is_not(None))
            .order_by(Patient.last_name)
        ).first()
    assert patient_id is not None
    sent = desk.send_booking_link(patient_id, rule.id)
    return server.url + "/l/" + sent.url.rsplit("/l/", 1)[1]


def _shot(page: Page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def _side_by_side(browser: Browser, shots: list[Path], captions: list[str], out: Path) -> None:
    """Phone screens in a row, captioned, as one picture."""
    cells = "".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode(shot.read_bytes()).decode()}">'
        f"<figcaption>{caption}</figcaption></figure>"
        for shot, caption in zip(shots, captions, strict=True)
    )
    html = (
        "<html><body style='margin:0;background:#eef1f4;font:15px system-ui'>"
        "<div style='display:flex;gap:24px;padding:24px'>"
        f"{cells}</div><style>figure{{margin:0}}img{{width:{SCREEN['width']}px;"
        "border:1px solid #8a8a8a;border-radius:18px}figcaption{text-align:center;"
        "padding-top:8px;color:#333}</style></body></html>"
    )
    page = browser.new_page(viewport={"width": 3 * SCREEN["width"] + 4 * 24, "height": 880})
    page.set_content(html)
    page.wait_for_load_state("load")
    page.screenshot(path=str(out), full_page=True)
    page.close()


def _portal(browser: Browser, server: LiveServer, work: Path, out_dir: Path) -> None:
    """The demo's account holder signs in with their password, books, and looks."""
    phone = browser.new_context(**{**PHONE, "viewport": SCREEN})
    page = phone.new_page()
    base = f"{server.url}/portal/{DEMO_SLUG}"
    page.goto(f"{base}/sign-in")
    page.locator("form[action$='/sign-in/password'] input[name=email]").fill(DEMO_PORTAL_EMAIL)
    page.get_by_label("Password").fill(DEMO_PORTAL_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/home")
    page.goto(f"{base}/book")
    page.locator("input[name=type]").first.check()
    page.get_by_role("button", name="Continue").click()
    page.locator("input[name=provider]").first.check()
    page.get_by_role("button", name="Show times").click()
    page.get_by_role("link", name="Later times").click()
    page.locator("input[name=slot]").first.check()
    times = _shot(page, work, "portal-times")
    page.get_by_role("button", name="Review this time").click()
    page.get_by_role("button", name="Confirm appointment").click()
    page.get_by_text("Your appointment is booked").wait_for()
    booked = _shot(page, work, "portal-booked")
    page.goto(f"{base}/home")
    home = _shot(page, work, "portal-home")
    phone.close()
    _side_by_side(
        browser,
        [home, times, booked],
        ["Home: the next appointments", "Booking a time", "Booked, with its buttons"],
        out_dir / "portal.png",
    )


def _form(browser: Browser, server: LiveServer, work: Path, out_dir: Path) -> None:
    """The demo's account holder fills in the intake questionnaire on their phone."""
    phone = browser.new_context(**{**PHONE, "viewport": SCREEN})
    page = phone.new_page()
    base = f"{server.url}/portal/{DEMO_SLUG}"
    page.goto(f"{base}/sign-in")
    page.locator("form[action$='/sign-in/password'] input[name=email]").fill(DEMO_PORTAL_EMAIL)
    page.get_by_label("Password").fill(DEMO_PORTAL_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/home")
    home = _shot(page, work, "form-home")
    # The holder's own questionnaire (their child's is listed "for Leo" beside it).
    page.locator("li", has_not_text="(for ").get_by_role(
        "link", name="Health questionnaire"
    ).first.click()
    page.get_by_label("What brings you to us?").fill("A sore right knee after running.")
    page.get_by_label("Knee").check()
    page.locator("input[name=a-pain][value='6']").check()
    page.get_by_label("When did it start?").fill("2026-10-12")
    questions = _shot(page, work, "form-page")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_label("No").check()
    name = page.locator("#s-signature").inner_text().split(": ", 1)[-1].rstrip(".")
    page.get_by_label("Type your full name to sign").fill(name)
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("button", name="Send to the clinic").wait_for()
    review = _shot(page, work, "form-review")
    phone.close()
    _side_by_side(
        browser,
        [home, questions, review],
        ["Home: forms to fill in", "A page of questions", "Review, then send"],
        out_dir / "portal-form.png",
    )


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        server = LiveServer(work / "server.sqlite3")
        try:
            with transaction(server.sessionmaker) as session:
                clinic = session.scalar(select(Clinic).where(Clinic.slug == DEMO_SLUG))
                assert clinic is not None
                seed_demo_online(session, clinic)
                seed_demo_portal(session, clinic)
                seed_demo_forms(session, clinic)
            link = _link_url(server)
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                phone = browser.new_context(**{**PHONE, "viewport": SCREEN})
                page = phone.new_page()

                page.goto(link)
                shots = [_shot(page, work, "link-welcome")]
                page.get_by_role("button", name="Continue to book appointment").click()
                page.locator("input[name=slot]").first.check()
                shots.append(_shot(page, work, "link-times"))
                page.get_by_role("button", name="Review this time").click()
                page.get_by_role("button", name="Confirm appointment").click()
                page.get_by_role("heading", name="Your appointment is booked").wait_for()
                shots.append(_shot(page, work, "link-booked"))
                _side_by_side(
                    browser,
                    shots,
                    ["The link from the text", "A time that suits", "Booked"],
                    out_dir / "web-link.png",
                )

                page.goto(f"{server.url}/book/{DEMO_SLUG}")
                page.locator('input[name="type"]').first.check()
                shots = [_shot(page, work, "widget-type")]
                page.get_by_role("button", name="See times").click()
                page.locator('input[name="start"]').first.check()
                shots.append(_shot(page, work, "widget-times"))
                page.get_by_role("button", name="Next: your details").click()
                page.get_by_label("First name").fill("Robin")
                page.get_by_label("Last name").fill("Ashdown")
                shots.append(_shot(page, work, "widget-details"))
                _side_by_side(
                    browser,
                    shots,
                    ["What kind, with whom", "The week's free times", "Your details"],
                    out_dir / "web-widget.png",
                )

                _portal(browser, server, work, out_dir)
                _form(browser, server, work, out_dir)
                browser.close()
        finally:
            server.close()
    print(f"Saved web-link.png, web-widget.png, portal.png and portal-form.png in {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshots"))
