"""The words a provider failure is filed under (``SendFailure.code``).

Reasons are for people and differ per provider; codes are for the dispatcher and the
desk, and mean the same whoever sent. Two of them are worth knowing when reading a
failure: ``provider_auth`` and ``provider_config`` are *our* side's fault (a revoked key, a
sender not set up), never the patient's, so they are transient: the message is kept and
goes out once staff have fixed the setting, instead of being lost as undeliverable.
"""

from __future__ import annotations

NETWORK = "network"  # the provider could not be reached, or did not answer in time
PROVIDER_DOWN = "provider_unavailable"  # it answered with a 5xx
RATE_LIMITED = "rate_limited"  # it asked us to slow down
PROVIDER_AUTH = "provider_auth"  # it refused our credentials
PROVIDER_CONFIG = "provider_config"  # it refused our sender or our connection settings
DEFERRED = "deferred"  # the receiving side asked to try again later (an SMTP 4xx)

INVALID_ADDRESS = "invalid_address"  # no such number or mailbox
NOT_MOBILE = "not_mobile"  # a landline: it cannot receive texts
OPTED_OUT = "opted_out"  # the patient told the provider to stop (STOP)
REJECTED = "rejected"  # refused as written, for another reason the text gives
BAD_MESSAGE = "bad_message"  # the message itself cannot be built (a header with a line break)
