"""The patients' side of the server: pages a patient opens on a phone (the practice page,
the booking widget, the enquiry form, booking and manage links).

Server-rendered HTML that works without JavaScript, with its own templates, static files,
form handling, security headers and friendly error pages (``server.web.pages``). It calls
the same services as the desk and never writes an appointment itself.
"""
