"""TWS message codes that change what the user can rely on, in one place.

Each code has IBKR's meaning, our plain message and, where the user can do something,
the advice. The named sets group codes by what they do to the session or to a quote
line; ``connection.py``, ``ibkr_market_data.py`` and ``data_state.py`` read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CANCEL_FAILED_CODES",
    "CLIENT_ID_IN_USE",
    "COMPETING_SESSION",
    "CONNECTIVITY_BROKEN",
    "CONNECTIVITY_CODES",
    "CONNECTIVITY_DEGRADED_CODES",
    "CONNECTIVITY_LOST",
    "CONNECTIVITY_RESTORED_CODES",
    "CONNECTIVITY_RESTORED_DATA_KEPT",
    "CONNECTIVITY_RESTORED_DATA_LOST",
    "DELAYED_NOT_ENABLED",
    "DELAYED_SHOWN",
    "FARM_BROKEN_CODES",
    "FARM_CODES",
    "FARM_INACTIVE_CODES",
    "FARM_OK_CODES",
    "HISTORICAL_DATA_ERROR",
    "MAX_TICKERS",
    "NOT_ENTITLED_CODES",
    "NO_SECURITY_DEFINITION",
    "ORDER_CANCELLED",
    "ORDER_NOTICE_CODES",
    "ORDER_REJECTED",
    "PARTIAL_DATA",
    "SOCKET_PORT_RESET",
    "TWS_CODES",
    "WARNING_CODES",
    "Problem",
    "TwsCode",
    "advice",
    "farm_kind",
]


@dataclass(frozen=True, slots=True)
class TwsCode:
    code: int
    meaning: str  # what IBKR's documentation says the code means
    message: str  # what we tell the user
    advice: str = ""  # what the user can do about it ("" when nothing)


# -- the session ------------------------------------------------------------------------
CLIENT_ID_IN_USE = 326
SOCKET_PORT_RESET = 1300
CONNECTIVITY_LOST = 1100
CONNECTIVITY_RESTORED_DATA_LOST = 1101
CONNECTIVITY_RESTORED_DATA_KEPT = 1102
CONNECTIVITY_BROKEN = 2110  # TWS <-> IBKR servers broken; restored automatically
CONNECTIVITY_CODES = frozenset(
    {CONNECTIVITY_LOST, CONNECTIVITY_RESTORED_DATA_LOST, CONNECTIVITY_RESTORED_DATA_KEPT}
)
CONNECTIVITY_DEGRADED_CODES = frozenset({CONNECTIVITY_LOST, CONNECTIVITY_BROKEN})
CONNECTIVITY_RESTORED_CODES = frozenset(
    {CONNECTIVITY_RESTORED_DATA_LOST, CONNECTIVITY_RESTORED_DATA_KEPT}
)
# IBKR's "warning codes" (2100-2199: farms, connectivity, account notes): never the failure
# of a request, whatever request id they carry.
WARNING_CODES = range(2100, 2200)

# -- quote lines and requests -----------------------------------------------------------
MAX_TICKERS = 101
HISTORICAL_DATA_ERROR = 162
NO_SECURITY_DEFINITION = 200
COMPETING_SESSION = 10197
DELAYED_SHOWN = 10167
DELAYED_NOT_ENABLED = 10168
PARTIAL_DATA = 10090  # part of the data is not subscribed: the stream goes on
# 10197 is not here: the account is entitled, another session holds the data.
NOT_ENTITLED_CODES = frozenset({354, 10089, PARTIAL_DATA, 10186})

# -- data farms -------------------------------------------------------------------------
FARM_BROKEN_CODES = frozenset({2103, 2105, 2157})
FARM_OK_CODES = frozenset({2104, 2106, 2158})
FARM_INACTIVE_CODES = frozenset({2107, 2108})  # idle, available on demand
FARM_CODES = frozenset({*FARM_BROKEN_CODES, *FARM_OK_CODES, *FARM_INACTIVE_CODES, 2119})

# -- orders -----------------------------------------------------------------------------
ORDER_REJECTED = 201  # rejected (reason follows: margin, precautionary settings...)
ORDER_CANCELLED = 202  # cancelled (sent after every cancel, with its reason)
# can't cancel: 161 not in a cancellable state, 10147 unknown order id (e.g. another
# client's), 10148 already being cancelled / filled
CANCEL_FAILED_CODES = frozenset({161, 10147, 10148})
# order messages that are notices, not failures of the order: 399 order message (e.g.
# held until the open), 404 shares being located, 10167 delayed data shown, 10311
# routing note, 10349 TIF changed by a preset
ORDER_NOTICE_CODES = frozenset({399, 404, DELAYED_SHOWN, 10311, 10349})

_FARM_KIND = {
    2103: "market data",
    2104: "market data",
    2105: "historical data",
    2106: "historical data",
    2107: "historical data",
    2108: "market data",
    2119: "market data",
    2157: "security definition",
    2158: "security definition",
}

_CODES = [
    TwsCode(
        CLIENT_ID_IN_USE,
        "Unable to connect as the client id is already in use.",
        "Client id already in use",
        "Retry with another client id.",
    ),
    TwsCode(
        502,
        "Couldn't connect to TWS. Confirm that API is enabled and the port is TWS's Socket Port.",
        "Couldn't connect to TWS / IB Gateway",
    ),
    TwsCode(504, "Not connected.", "Not connected to TWS / IB Gateway"),
    TwsCode(
        SOCKET_PORT_RESET,
        "TWS socket port has been reset and this connection is being dropped. Please "
        "reconnect on the new port.",
        "The TWS socket port was reset",
    ),
    TwsCode(
        10089,
        "Requested market data requires additional subscription for API.",
        "This symbol needs an additional API market data subscription",
    ),
    TwsCode(
        PARTIAL_DATA,
        "Part of requested market data is not subscribed.",
        "Part of the market data for this symbol is not subscribed",
    ),
    TwsCode(
        MAX_TICKERS,
        "Max number of tickers has been reached.",
        "Too many market data lines open (IBKR's limit is 100 by default)",
    ),
    TwsCode(
        NO_SECURITY_DEFINITION,
        "No security definition has been found for the request.",
        "Unknown symbol: no security definition found",
    ),
    TwsCode(
        HISTORICAL_DATA_ERROR,
        "Historical market data Service error message.",
        "Historical data request failed",
    ),
    TwsCode(201, "Order rejected - reason.", "Order rejected"),
    TwsCode(202, "Order cancelled - reason.", "Order cancelled"),
    TwsCode(321, "Error validating request.", "Request rejected by TWS (is the API read-only?)"),
    TwsCode(
        CONNECTIVITY_BROKEN,
        "Connectivity between TWS and server is broken. It will be restored automatically.",
        "TWS / IB Gateway lost its connection to IBKR's servers: prices are not updating",
        "Wait for TWS to reconnect (it retries by itself); check its internet connection.",
    ),
    TwsCode(
        1100,
        "Connectivity between IB and the TWS has been lost.",
        "TWS / IB Gateway lost its connection to IBKR: prices are not updating and "
        "orders may wait until it is back",
        "Wait for TWS to reconnect (it retries by itself); check its internet connection.",
    ),
    TwsCode(
        1101,
        "Connectivity between IB and TWS has been restored- data lost.",
        "Connection to IBKR restored; market data was resubscribed",
    ),
    TwsCode(
        1102,
        "Connectivity between IB and TWS has been restored- data maintained.",
        "Connection to IBKR restored; data was kept",
    ),
    TwsCode(
        2103,
        "A market data farm is disconnected.",
        "A market data farm is disconnected: prices from it are not updating",
        "TWS reconnects the farm by itself; until then the prices shown are the last ones.",
    ),
    TwsCode(2104, "A market data farm is connected.", "Market data farm connected"),
    TwsCode(
        2105,
        "A historical data farm is disconnected.",
        "The historical data farm is disconnected: charts from IBKR are unavailable",
        "TWS reconnects the farm by itself; charts come back with it.",
    ),
    TwsCode(2106, "A historical data farm is connected.", "Historical data farm connected"),
    TwsCode(
        2157,
        "The security definition data farm is disconnected.",
        "The security definition farm is disconnected: new symbols cannot be looked up",
        "TWS reconnects the farm by itself; try the symbol again in a minute.",
    ),
    TwsCode(2158, "The security definition data farm is connected.", "Sec-def farm connected"),
    TwsCode(
        COMPETING_SESSION,
        "No market data during competing live session.",
        "No market data: another live session of this IBKR user holds it",
        "Close the other session: log out of TWS / IBKR Mobile / Client Portal where this "
        "user is logged in live elsewhere; data comes back here when it ends.",
    ),
    TwsCode(
        354,
        "Requested market data is not subscribed.",
        "No market data subscription for this symbol",
        "Subscribe in Client Portal > Settings > Market Data Subscriptions.",
    ),
    TwsCode(
        DELAYED_SHOWN,
        "Requested market data is not subscribed. Displaying delayed market data.",
        "Not subscribed: showing delayed market data",
    ),
    TwsCode(
        DELAYED_NOT_ENABLED,
        "Requested market data is not subscribed. Delayed market data is not enabled.",
        "Not subscribed to market data and delayed data is not enabled",
        "Subscribe to the exchange's market data, or enable delayed data in TWS.",
    ),
]
TWS_CODES: dict[int, TwsCode] = {c.code: c for c in _CODES}


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a source has no data, kept structured from where it is known (a TWS error,
    a provider) to what the page and the API show: nobody parses the text again.

    ``code`` is TWS's (None when the problem is not a TWS message); ``expected`` marks a
    source that is simply off (not connected, not configured), not this symbol's fault.
    """

    message: str
    code: int | None = None
    advice: str = ""
    source: str = ""  # which source said it ("ibkr-live", "yahoo", ...)
    expected: bool = False
    unknown_symbol: bool = False


def advice(code: int) -> str:
    entry = TWS_CODES.get(int(code))
    return entry.advice if entry else ""


def farm_kind(code: int) -> str:
    """'market data', 'historical data' or 'security definition' for a farm notice."""
    return _FARM_KIND.get(int(code), "data")
