"""What the user can rely on right now: the connection's state and each quote line's.

One model for every view (sidebar badge, page banners, quote rows, the HTTP API, a push
view): ``connection_view(status)`` and ``quote_view(quote)`` return plain data (enums,
text, advice) computed here, so every view says the same thing. "live" only when it is:
connected, TWS linked to IBKR (no 1100), the market data farm up, no competing session.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibkr_core.tws_codes import COMPETING_SESSION, CONNECTIVITY_LOST, TWS_CODES, farm_kind

if TYPE_CHECKING:
    from ibkr_core.connection import ConnectionStatus
    from ibkr_core.quote import Quote

__all__ = [
    "COMPETING_SESSION_TEXT",
    "ConnectionView",
    "LineState",
    "LinkState",
    "Notice",
    "QuoteView",
    "connection_view",
    "quote_view",
]


class LinkState(StrEnum):
    """The session as a whole."""

    CONNECTED = "connected"
    DEGRADED = "degraded"  # 1100: TWS is up but lost IBKR's servers
    RECONNECTING = "reconnecting"
    CONNECTING = "connecting"
    DISCONNECTED = "disconnected"


class LineState(StrEnum):
    """One quote line from IBKR."""

    LIVE = "live"
    DELAYED = "delayed"
    FROZEN = "frozen"  # market closed: the last values, with their own trade time
    DELAYED_FROZEN = "delayed-frozen"
    STALLED = "stalled"  # a live line that is not updating (1100, data farm broken)
    COMPETING_SESSION = "competing-session"  # 10197: no data at all
    NOT_ENTITLED = "not-entitled"
    WAITING = "waiting"  # subscribed, no tick yet


# Marks a quote error as "no data: competing session" through fallbacks and merges.
COMPETING_SESSION_TEXT = "no data: competing session"
COMPETING_ROW_TEXT = f"{COMPETING_SESSION_TEXT} — close the other session"
MARKET_CLOSED_TEXT = (
    "IBKR quotes are the market's last values (frozen), each with its last trade's time"
)
_COMPETING = TWS_CODES[COMPETING_SESSION]


@dataclass(frozen=True, slots=True)
class Notice:
    level: str  # "info" | "warning" | "error"
    message: str
    advice: str = ""
    code: int | None = None

    @property
    def text(self) -> str:
        return f"{self.message}. {self.advice}" if self.advice else self.message


@dataclass(frozen=True, slots=True)
class ConnectionView:
    state: LinkState
    label: str  # the badge text
    level: str  # "ok" | "info" | "warning" | "error" | "idle"
    live: bool  # prices from IBKR are live right now
    notices: tuple[Notice, ...] = ()
    broken_farms: tuple[str, ...] = ()
    competing_session: bool = False
    market_closed: bool = False

    @property
    def key(self) -> tuple[Any, ...]:
        """Changes whenever what the user should be told changes."""
        return (self.state, self.label, self.broken_farms, self.live)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["state"] = str(self.state)
        out["notices"] = [asdict(n) for n in self.notices]
        return out


def connection_view(status: ConnectionStatus) -> ConnectionView:
    # ``status.state`` is a ``ConnectionState`` (a StrEnum): compared by value, so this
    # module needs nothing from ``connection`` at runtime (connection imports it).
    farms = tuple(f"{farm} ({farm_kind(code)})" for farm, code in status.broken_farms)
    competing = bool(status.competing_session)
    notices: list[Notice] = []
    if status.connected:
        if status.degraded:
            tws = TWS_CODES[CONNECTIVITY_LOST]
            notices.append(Notice("error", tws.message, tws.advice, CONNECTIVITY_LOST))
        for farm, code in status.broken_farms:
            tws = TWS_CODES.get(code)
            message = tws.message if tws else f"The {farm_kind(code)} farm is disconnected"
            hint = tws.advice if tws else ""
            notices.append(Notice("warning", f"{message} ({farm})", hint, code))
        if competing:
            notices.append(
                Notice("error", _COMPETING.message, _COMPETING.advice, COMPETING_SESSION)
            )
        closed = bool(status.market_closed)
        if closed:
            notices.append(Notice("info", MARKET_CLOSED_TEXT))
        if status.degraded:
            state, label, level = LinkState.DEGRADED, "Degraded: TWS lost IBKR", "error"
        elif competing:
            state, label, level = LinkState.CONNECTED, "No data: competing session", "error"
        elif status.broken_farms:
            state, label, level = LinkState.CONNECTED, "Data farm broken", "warning"
        elif closed:
            state, label, level = LinkState.CONNECTED, "Connected · market closed", "info"
        else:
            state, label, level = LinkState.CONNECTED, "Connected", "ok"
        market_farm_down = any(farm_kind(c) == "market data" for _, c in status.broken_farms)
        live = not (status.degraded or competing or market_farm_down or closed)
        return ConnectionView(state, label, level, live, tuple(notices), farms, competing, closed)
    if status.state == "reconnecting":
        attempt = f" (attempt {status.reconnect_attempts})" if status.reconnect_attempts else ""
        notices.append(
            Notice(
                "warning",
                f"{status.last_error or 'Connection lost'}: reconnecting automatically",
                "Prices and account data are not updating until it is back.",
            )
        )
        return ConnectionView(
            LinkState.RECONNECTING, f"Reconnecting{attempt}", "warning", False, tuple(notices)
        )
    if status.state == "connecting":
        return ConnectionView(LinkState.CONNECTING, "Connecting…", "info", False)
    return ConnectionView(LinkState.DISCONNECTED, "Disconnected", "idle", False)


# -- quote lines ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QuoteView:
    state: LineState | None  # None: not an IBKR line (a fallback provider, or no data)
    source_text: str  # "IBKR (live)", "IBKR (frozen, last 16:00 EST)", ...
    problem: str | None  # why there is no (live) IBKR data and what to do (None: no problem)
    live: bool
    as_of: datetime | None  # the quote's own time (last trade where IBKR gives it)
    status_text: str | None = None  # a short row status ("✖ No data: close the other
    # session", "◐ Market closed: last values"); None: the view says OK / stale itself

    def as_dict(self) -> dict[str, Any]:
        return {
            "line_state": str(self.state) if self.state else None,
            "source_text": self.source_text,
            "problem": self.problem,
            "live": self.live,
            "as_of": self.as_of,
            "status_text": self.status_text,
        }


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def trade_time_text(when: datetime, time_zone: str | None, now: datetime | None = None) -> str:
    """'16:00 EST' in the exchange's zone (UTC if unknown); 'Fri 16:00 EST' on another day."""
    zone = _zone(time_zone) or UTC
    local = when.astimezone(zone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    days = (today - local.date()).days
    day = "" if days == 0 else local.strftime("%a " if 0 < days < 7 else "%d %b ")
    return f"{day}{local:%H:%M} {local.tzname() or 'UTC'}".strip()


_SOURCE_TEXT = {
    "ibkr-live": "IBKR (live)",
    "ibkr-delayed": "IBKR (delayed)",
    "ibkr-frozen": "IBKR (frozen)",
    "yahoo": "Yahoo Finance",
    "alphavantage": "Alpha Vantage",
    "none": "no source",
}


def quote_view(
    quote: Quote, now: datetime | None = None, session: ConnectionView | None = None
) -> QuoteView:
    """How one quote row reads. With ``session`` (the connection's view), a row priced by
    a fallback during a competing session says why IBKR has no data and what to do."""
    state = LineState(quote.line_state) if quote.line_state else None
    error = quote.error or ""
    fallback = not str(quote.source).startswith("ibkr")
    if session is not None and session.competing_session and fallback and quote.ok:
        source = _SOURCE_TEXT.get(str(quote.source), str(quote.source))
        problem = f"IBKR {COMPETING_ROW_TEXT}"
        short = "⚠ IBKR no data: close the other session"
        return QuoteView(None, source, problem, False, quote.provider_time, short)
    if state == LineState.COMPETING_SESSION or COMPETING_SESSION_TEXT in error:
        return QuoteView(
            LineState.COMPETING_SESSION,
            "IBKR (competing session)",
            COMPETING_ROW_TEXT,
            False,
            None,
            "✖ No data: close the other session",
        )
    source = _SOURCE_TEXT.get(str(quote.source), str(quote.source))
    as_of = quote.provider_time
    if not quote.ok:
        return QuoteView(state, source, error or "no data", False, as_of)
    if state in (LineState.FROZEN, LineState.DELAYED_FROZEN):
        kind = "frozen" if state == LineState.FROZEN else "delayed, frozen"
        when = quote.last_trade_time
        at = f", last {trade_time_text(when, quote.time_zone, now)}" if when else ""
        closed = "◐ Market closed: last values"
        return QuoteView(state, f"IBKR ({kind}{at})", None, False, as_of, closed)
    if state == LineState.STALLED:
        why = quote.state_note or "no new ticks"
        stalled = f"⚠ Not updating: {why}"
        return QuoteView(
            state, "IBKR (not updating)", f"not updating: {why}", False, as_of, stalled
        )
    if state == LineState.DELAYED:
        return QuoteView(state, "IBKR (delayed)", None, False, as_of)
    return QuoteView(state, source, None, state == LineState.LIVE, as_of)
