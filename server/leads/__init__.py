"""Enquiries from people who are not yet patients, and the desk's worklist of them."""
