"""The .ics attached to an appointment's confirmation: one event a mail program offers to
add to the patient's calendar.

The event is an iTIP ``REQUEST`` with a UID that stays the same for the appointment, so a
later confirmation (the appointment moved) updates the event already in the calendar
instead of adding a second one, provided its ``SEQUENCE`` is higher: pass the appointment's
version. Times are written in UTC, the one form every calendar reads the same; the
calendar shows them in the reader's own zone, and names the clinic's zone as a hint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, vCalAddress, vText

PRODUCT_ID = "-//Clinicdesk//Appointments//EN"
CONTENT_TYPE = "text/calendar; method=REQUEST; charset=utf-8"


def appointment_ics(
    uid: str,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    location: str,
    description: str,
    organizer_name: str,
    organizer_email: str,
    time_zone: str,
    *,
    sequence: int = 0,
    attendee_email: str | None = None,
    stamp: datetime | None = None,
) -> bytes:
    """One appointment as an iCalendar ``REQUEST``.

    ``starts_at`` / ``ends_at`` are instants (aware datetimes: a naive wall-clock time is
    ambiguous around a clock change, so it is refused). ``time_zone`` is the clinic's, named
    to calendars as a display hint. ``uid`` must be the same for every .ics of one
    appointment (for example ``f"{appointment_id}@{host}"``), ``sequence`` higher each time
    it changes. ``stamp`` is when the .ics was made (now by default).
    """
    try:  # an unknown zone is refused here, not by the patient's calendar
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {time_zone!r}.") from exc
    start, end = _instant(starts_at), _instant(ends_at)
    if end <= start:
        raise ValueError("An appointment must end after it starts.")
    if sequence < 0:
        raise ValueError("The sequence of an event cannot be negative.")

    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")
    calendar.add("x-wr-timezone", time_zone)

    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(organizer_name)
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", _instant(stamp or datetime.now(UTC)))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("sequence", sequence)
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", organizer)
    if attendee_email:
        attendee = vCalAddress(f"mailto:{attendee_email}")
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("ACCEPTED")  # booked already: nothing to answer
        event.add("attendee", attendee)
    calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics


def _instant(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Appointment times must carry their time zone (aware datetimes).")
    return moment.astimezone(UTC)
