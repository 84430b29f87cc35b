"""Error codes and texts as TWS / IB Gateway send them (shared by the gateway and sessions).

Kept apart from session.py so the gateway and the sessions both import it and not each
other.
"""

from __future__ import annotations

TEXT_NO_SECURITY = "No security definition has been found for the request"
TEXT_AMBIGUOUS = "The contract description specified for {name} is ambiguous."
# An advisor's order without an account (IBKR message codes page, 436).
TEXT_NO_ALLOCATION = "You must specify an allocation (either a single account, group, or profile)."
TEXT_CLIENT_ID_IN_USE = (
    "Unable to connect as the client id is already in use. Retry with a unique client id."
)
TEXT_NOT_SUBSCRIBED = (
    "Requested market data is not subscribed. Check API status by selecting the Account menu "
    "then under Management choose Market Data Subscription Manager and/or confirm that "
    "market data subscription has been enabled via the Market Data Connections menu."
    "Delayed market data is available.{symbol} {exchange}/TOP/ALL"
)
TEXT_DISPLAYING_DELAYED = "Requested market data is not subscribed. Displaying delayed market data."
TEXT_DELAYED_NOT_ENABLED = (
    "Requested market data is not subscribed. Delayed market data is not enabled."
)
TEXT_MAX_TICKERS = "Max number of tickers has been reached"
# 320/321: IBKR's message-code table ("Server error when reading an API client request." /
# "Server error when validating an API client request."); TWS appends the cause.
READ_ERROR = 320
TEXT_READ_ERROR = "Server error when reading an API client request."
VALIDATE_ERROR = 321
TEXT_VALIDATE_ERROR = "Error validating request.-'{tag}' : cause - {cause}"
TEXT_CONNECTIVITY = {
    1100: "Connectivity between IBKR and Trader Workstation has been lost.",
    1101: "Connectivity between IBKR and Trader Workstation has been restored - data lost.*",
    1102: "Connectivity between IBKR and Trader Workstation has been restored - data maintained. "
    "All data farms are connected: usfarm; ushmds; secdefnj.",
}
FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
FARM_BROKEN = (2103, "Market data farm connection is broken:usfarm")
