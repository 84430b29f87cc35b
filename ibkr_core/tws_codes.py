"""TWS message codes that change what the user can rely on, in one place.

Each code has IBKR's meaning, our plain message and, where the user can do something,
the advice. The named sets group codes by what they do to the session or to a quote
line; ``connection.py``, ``ibkr_market_data.py`` and ``data_state.py`` read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COMPETING_SESSION",
    "CONNECTIVITY_CODES",
    "CONNECTIVITY_LOST",
    "CONNECTIVITY_RESTORED_DATA_KEPT",
    "CONNECTIVITY_RESTORED_DATA_LOST",
    "DELAYED_NOT_ENABLED",
    "DELAYED_SHOWN",
    "FARM_BROKEN_CODES",
    "FARM_CODES",
    "FARM_OK_CODES",
    "NOT_ENTITLED_CODES",
    "TWS_CODES",
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


CONNECTIVITY_LOST = 1100
CONNECTIVITY_RESTORED_DATA_LOST = 1101
CONNECTIVITY_RESTORED_DATA_KEPT = 1102
CONNECTIVITY_CODES = frozenset({1100, 1101, 1102})
COMPETING_SESSION = 10197
DELAYED_SHOWN = 10167
DELAYED_NOT_ENABLED = 10168
# 10197 is not here: the account is entitled, another session holds the data.
NOT_ENTITLED_CODES = frozenset({354, 10089, 10090, 10186})
FARM_BROKEN_CODES = frozenset({2103, 2105, 2157})
FARM_OK_CODES = frozenset({2104, 2106, 2158})
FARM_CODES = frozenset({*FARM_BROKEN_CODES, *FARM_OK_CODES, 2107, 2108, 2119})

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


def advice(code: int) -> str:
    entry = TWS_CODES.get(int(code))
    return entry.advice if entry else ""


def farm_kind(code: int) -> str:
    """'market data', 'historical data' or 'security definition' for a farm notice."""
    return _FARM_KIND.get(int(code), "data")
