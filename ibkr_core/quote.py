"""The one quote model every provider maps into."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from ibkr_core.tws_codes import Problem, advice


class QuoteSource(StrEnum):
    """Where a quote came from; shown to the user next to every price."""

    IBKR_LIVE = "ibkr-live"
    IBKR_DELAYED = "ibkr-delayed"
    IBKR_FROZEN = "ibkr-frozen"
    YAHOO = "yahoo"
    ALPHA_VANTAGE = "alphavantage"
    NONE = "none"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def clean(value: float | int | None) -> float | None:
    """NaN / None / IBKR's 'unset' sentinels mean 'no data yet', never 0."""
    if value is None:
        return None
    value = float(value)
    if math.isnan(value) or math.isinf(value) or value >= 1e300 or value == -1.0:
        return None
    return value


def num(value: object) -> float | None:
    """A number from IBKR, or None for NaN / inf / the 'unset' double / empty or junk.
    Unlike `clean`, -1 stays a number (a P&L or a quantity can be -1)."""
    if value is None or value == "":
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number) or abs(number) >= 1e300:
        return None
    return number


@dataclass(frozen=True, slots=True)
class Quote:
    """A price snapshot for one symbol.

    Prices are ``None`` when the provider has no value yet (IBKR sends NaN until the
    first tick): a missing price must never be shown or summed as 0.
    ``provider_time`` is the provider's own timestamp of the data (staleness is judged
    from it: for IBKR the last trade's own time, tick 45, where TWS sends one; its arrival
    time otherwise); ``fetched_at`` is when we obtained it. ``line_state`` is the IBKR
    line's ``data_state.LineState`` value (None for other providers); ``last_trade_time``
    and ``time_zone`` (the exchange's) let a frozen row say when its market closed.
    """

    symbol: str
    source: QuoteSource = QuoteSource.NONE
    last: float | None = None
    bid: float | None = None
    ask: float | None = None
    volume: float | None = None
    high: float | None = None
    low: float | None = None
    previous_close: float | None = None
    provider_time: datetime | None = None
    fetched_at: datetime = field(default_factory=_utc_now)
    error: str | None = None
    line_state: str | None = None
    state_note: str | None = None
    last_trade_time: datetime | None = None
    time_zone: str | None = None
    problems: tuple[Problem, ...] = ()  # why there is no data, one per source asked

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def price(self) -> float | None:
        """Best single price: last trade, else the mid, else the close."""
        if self.last is not None:
            return self.last
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return self.previous_close

    @property
    def change(self) -> float | None:
        if self.price is None or not self.previous_close:
            return None
        return self.price - self.previous_close

    @property
    def change_percent(self) -> float | None:
        if self.change is None or not self.previous_close:
            return None
        return 100.0 * self.change / self.previous_close

    def age_seconds(self, now: datetime | None = None) -> float | None:
        """Seconds since the provider's own timestamp (None when it gave none)."""
        if self.provider_time is None:
            return None
        return ((now or _utc_now()) - self.provider_time).total_seconds()

    def as_market_data(self) -> dict[str, float | None]:
        """The seed's market-data shape: last, bid, ask, volume, high, low."""
        return {
            "last": self.last,
            "bid": self.bid,
            "ask": self.ask,
            "volume": self.volume,
            "high": self.high,
            "low": self.low,
        }

    def with_error(self, message: str, code: int | None = None) -> Quote:
        """This quote failed (``code``: TWS's, when TWS said why)."""
        return replace(self, error=message, problems=(_problem(message, self.source, code),))

    @classmethod
    def failed(
        cls,
        symbol: str,
        message: str,
        source: QuoteSource | str = QuoteSource.NONE,
        code: int | None = None,
        **flags: bool,
    ) -> Quote:
        """A quote without data; ``flags``: ``Problem``'s ``expected`` / ``unknown_symbol``."""
        problems = (_problem(message, source, code, **flags),)
        return cls(symbol=symbol, source=source, error=message, problems=problems)

    @classmethod
    def merged_failure(cls, symbol: str, failures: list[Quote]) -> Quote:
        """No source could price ``symbol``: every source's reason, text and structure."""
        reasons = "; ".join(f"{q.source}: {q.error}" for q in failures)
        problems = tuple(
            p for q in failures for p in q.problems or (_problem(q.error or "", q.source),)
        )
        return cls(symbol=symbol, error=f"no quote: {reasons}", problems=problems)


def _problem(message: str, source: object, code: int | None = None, **flags: bool) -> Problem:
    hint = advice(code) if code is not None else ""
    return Problem(message, code, hint, str(source), **flags)
