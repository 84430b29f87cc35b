"""TWS error codes and connection failures, turned into plain messages.

Nothing here talks to the network: these are pure functions and exception types that
`connection.py` and `ibkr_market_data.py` share (and tests check directly).
The codes that change what the user can rely on (1100, farms, 10197, entitlements) live
in `tws_codes.py` with their meaning, message and advice.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable

from ibkr_core.tws_codes import (
    FARM_CODES,
    FARM_INACTIVE_CODES,
    FARM_OK_CODES,
    HISTORICAL_DATA_ERROR,
    TWS_CODES,
)

__all__ = [
    "ClientIdInUseError",
    "ConnectFailedError",
    "IBKRError",
    "NotConnectedError",
    "UnknownSymbolError",
    "account_is_paper",
    "connect_failure_message",
    "describe_error",
    "is_pacing_violation",
    "live_accounts",
    "paper_mismatch_warning",
    "parse_farm_notice",
    "port_kind",
    "reset_port",
]

# -- ports ---------------------------------------------------------------------------
PORT_KINDS = {
    7496: ("TWS live", False),
    7497: ("TWS paper", True),
    4001: ("IB Gateway live", False),
    4002: ("IB Gateway paper", True),
}


# -- exceptions ------------------------------------------------------------------------
class IBKRError(Exception):
    """Base of every error this package raises; ``str()`` is a plain message."""


class NotConnectedError(IBKRError):
    def __init__(self, message: str = "Not connected to TWS / IB Gateway") -> None:
        super().__init__(message)


class ConnectFailedError(IBKRError):
    """A connection attempt failed; the message is meant for the user."""


class ClientIdInUseError(ConnectFailedError):
    def __init__(self, client_id: int) -> None:
        super().__init__(f"client id {client_id} is already in use")
        self.client_id = client_id


class UnknownSymbolError(IBKRError, LookupError):
    def __init__(self, symbol: str, detail: str = "") -> None:
        message = f"Unknown symbol {symbol!r}: IBKR has no matching contract"
        if detail:
            message += f" ({detail})"
        super().__init__(message)
        self.symbol = symbol


# -- ports and accounts ----------------------------------------------------------------
def port_kind(port: int | None) -> str | None:
    """A hint for the UI: "TWS paper", "IB Gateway live", ... (None for other ports)."""
    kind = PORT_KINDS.get(int(port)) if port is not None else None
    return kind[0] if kind else None


PAPER_ACCOUNT_PREFIXES = ("DU", "DF")  # IBKR paper accounts: DU (individual), DF (advisor)


def live_accounts(accounts: Iterable[str]) -> list[str]:
    """The accounts among ``accounts`` that trade real money: the one paper/live rule."""
    return [a for a in accounts if not a.strip().upper().startswith(PAPER_ACCOUNT_PREFIXES)]


def account_is_paper(accounts: Iterable[str]) -> bool | None:
    """True when every account is paper; None when there is no account to tell from."""
    accounts = list(accounts)
    if not accounts:
        return None
    return not live_accounts(accounts)


def paper_mismatch_warning(port: int, accounts: list[str] | tuple[str, ...]) -> str | None:
    """Warn when the port's usual kind disagrees with the account type."""
    kind = PORT_KINDS.get(int(port))
    paper = account_is_paper(accounts)
    if kind is None or paper is None:
        return None
    name, port_is_paper = kind
    if port_is_paper and not paper:
        return (
            f"Port {port} is usually {name}, but account {', '.join(accounts)} is a LIVE "
            "account: orders would use real money."
        )
    if not port_is_paper and paper:
        return (
            f"Port {port} is usually {name}, but account {', '.join(accounts)} is a paper account."
        )
    return None


# -- messages --------------------------------------------------------------------------
def describe_error(code: int, message: str = "") -> str:
    """A plain one-line message for a TWS error code (the TWS text as a fallback)."""
    entry = TWS_CODES.get(int(code))
    plain = entry.message if entry else ""
    text = (message or "").strip()
    if code == HISTORICAL_DATA_ERROR and is_pacing_violation(text):
        return "IBKR historical data pacing limit hit: retrying later"
    if plain and text:
        return f"{plain} (IBKR {code}: {text})"
    if plain:
        return f"{plain} (IBKR {code})"
    return f"IBKR error {code}: {text}" if text else f"IBKR error {code}"


def connect_failure_message(
    exc: BaseException,
    host: str,
    port: int,
    client_id: int,
    timeout: float,
    *,
    handshake_done: bool = False,
) -> str:
    """Turn an exception from a connect attempt into a message a trader can act on."""
    where = f"{host}:{port}"
    if isinstance(exc, ConnectFailedError):
        return str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"Connection refused at {where}: is TWS / IB Gateway running with the API "
            f"enabled on port {port}? (TWS: Global Configuration > API > Settings)"
        )
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        if handshake_done:
            return (
                f"Connected to {where} but TWS did not finish sending the initial account "
                f"data within {timeout:g} s: try again or raise the connect timeout."
            )
        return (
            f"No answer from {where} within {timeout:g} s: TWS may be waiting for you to "
            "accept the connection (check for a dialog in TWS), or another program is "
            "listening on this port."
        )
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        return f"Cannot reach {where}: {reason}. Check the host name and port."
    if isinstance(exc, ConnectionError):
        text = str(exc) or "connection closed"
        return f"Connection to {where} failed: {text}"
    return f"Connection to {where} failed: {type(exc).__name__}: {exc}"


def is_pacing_violation(message: str) -> bool:
    return "pacing" in (message or "").lower()


_FARM_RE = re.compile(r"^(?P<what>.*?)\s+(?:connection\s+)?is\s+(?P<state>[^:]+):(?P<farm>\S+)")


def parse_farm_notice(code: int, message: str) -> tuple[str, str] | None:
    """``(farm, state)`` from a 2103/2104/... notice, e.g. ("usfarm", "OK")."""
    if code not in FARM_CODES:
        return None
    m = _FARM_RE.search(message or "")
    if m:
        return m.group("farm"), m.group("state").strip()
    state = "OK" if code in FARM_OK_CODES else "broken"
    if code in FARM_INACTIVE_CODES:
        state = "inactive"
    text = (message or "").strip()
    farm = text.rsplit(".", 1)[-1].rsplit(":", 1)[-1].strip() if text else ""
    return (farm or text or str(code)), state


_PORT_RE = re.compile(r"(\d{2,5})\s*$")


def reset_port(message: str) -> int | None:
    """The new port announced by a 1300 notice ("... reconnect on the new port - 7498")."""
    m = _PORT_RE.search(message or "")
    return int(m.group(1)) if m else None
