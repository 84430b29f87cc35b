"""What TWS says when a real trading day goes wrong: data farm outages, a competing live
session, the market closing, the nightly restart. Codes and texts as TWS sends them
(IBKR's "Message Codes" page; the farm names are the US ones a paper account uses)."""

from __future__ import annotations

MARKET_FARM = "usfarm"
HMDS_FARM = "ushmds"

FARM_BROKEN = {
    "market": (2103, f"Market data farm connection is broken:{MARKET_FARM}"),
    "hmds": (2105, f"HMDS data farm connection is broken:{HMDS_FARM}"),
}
FARM_OK = {
    "market": (2104, f"Market data farm connection is OK:{MARKET_FARM}"),
    "hmds": (2106, f"HMDS data farm connection is OK:{HMDS_FARM}"),
}
# Another session with the same username took the market data (e.g. TWS mobile logged
# in live): every subscription gets 10197 and no data flows until it logs out.
COMPETING_SESSION = (10197, "No market data during competing live session")
# Historical requests while the HMDS farm is down (TWS answers 162 with this cause).
HMDS_DOWN = (
    162,
    "Historical Market Data Service error message:HMDS server connection was broken. "
    "Please try again later.",
)
