"""Seeded, clock-free market state for the simulated gateway.

Every instrument has its own `random.Random` derived from (seed, symbol), so freezing or
moving one symbol never changes another symbol's path, and a run is reproducible from
the seed and the sequence of `now` values passed in. Nothing here reads the clock.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from . import history_model
from .pricing import Greeks, greeks
from .universe import EASTERN, UNIVERSE, Instrument, Universe

STEP_SECONDS = 0.25  # TWS sends stock quote snapshots every 250 ms
RTH_SECONDS = 6.5 * 3600  # 09:30-16:00
STEPS_PER_DAY = RTH_SECONDS / STEP_SECONDS  # 93,600 steps make one day's volatility
MAX_STEPS_PER_CALL = STEPS_PER_DAY  # a long pause moves the price at most one day

# Historical data validation texts, as TWS sends them with error 321 / 162.
# Bar size: copied from a real TWS answer quoted in wboayue/rust-ibapi PR #245 and
# dshe/InterReact issue #16 ("Error validating request.-'bK' : cause - Historical data
# bar size setting is invalid. Legal ones are: ...").
LEGAL_BAR_SIZES_TEXT = (
    "1 secs, 5 secs, 10 secs, 15 secs, 30 secs, 1 min, 2 mins, 3 mins, 5 mins, 10 mins, "
    "15 mins, 20 mins, 30 mins, 1 hour, 2 hours, 3 hours, 4 hours, 8 hours, 1 day, 1W, 1M"
)
BAR_SIZE_INVALID = (
    "Error validating request.-'bK' : cause - Historical data bar size setting is invalid. "
    "Legal ones are: " + LEGAL_BAR_SIZES_TEXT
)
# Duration: TWS validates the durationStr the same way ("<integer> <S|D|W|M|Y>").
DURATION_INVALID = (
    "Error validating request.-'bN' : cause - Historical data duration format is invalid: "
    "should be <integer> <unit>, unit one of S, D, W, M, Y"
)
# 162 texts seen in the wild (QuantConnect/Lean #607, wrighter/ib-scripts #1,
# many clients matching "Time length exceed max").
HMDS_PREFIX = "Historical Market Data Service error message:"
TIME_LENGTH_EXCEEDED = HMDS_PREFIX + "Time length exceed max."
WHAT_TO_SHOW_INVALID = (
    "Error validating request.-'bO' : cause - What to show field is missing or incorrect."
)
WHAT_TO_SHOW = {
    "TRADES",
    "MIDPOINT",
    "BID",
    "ASK",
    "BID_ASK",
    "ADJUSTED_LAST",
    "HISTORICAL_VOLATILITY",
    "OPTION_IMPLIED_VOLATILITY",
}

BAR_SIZES: dict[str, int] = {
    "1 secs": 1,
    "5 secs": 5,
    "10 secs": 10,
    "15 secs": 15,
    "30 secs": 30,
    "1 min": 60,
    "2 mins": 120,
    "3 mins": 180,
    "5 mins": 300,
    "10 mins": 600,
    "15 mins": 900,
    "20 mins": 1200,
    "30 mins": 1800,
    "1 hour": 3600,
    "2 hours": 7200,
    "3 hours": 10800,
    "4 hours": 14400,
    "8 hours": 28800,
    "1 day": 86400,
    "1W": 7 * 86400,
    "1 week": 7 * 86400,
    "1M": 30 * 86400,
    "1 month": 30 * 86400,
}
_DAILY_OR_LONGER = {"1 day", "1W", "1 week", "1M", "1 month"}
MAX_BARS = 10_000  # beyond this TWS answers 162 "Time length exceed max."


class HistoricalDataError(ValueError):
    """A historical data request TWS would refuse; `code` is 321 or 162."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class QuoteState:
    symbol: str
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    last_size: float
    volume: float  # shares traded today, cumulative
    high: float
    low: float
    open: float
    close: float  # previous session's close
    last_time: float  # epoch seconds of the last trade / price change
    halted: bool = False  # frozen: no ticks until unfreeze

    @property
    def frozen(self) -> bool:
        return self.halted

    @property
    def mid(self) -> float:
        return round((self.bid + self.ask) / 2, 10)


@dataclass
class Bar:
    time: int | date  # epoch seconds (bar start) for intraday, a date for daily and longer
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


def _decimals(tick: float) -> int:
    exponent = Decimal(str(tick)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def round_to_tick(price: float, tick: float) -> float:
    """`price` rounded to the nearest multiple of `tick`, without float noise."""
    ticks = round(price / tick)
    return round(ticks * tick, _decimals(tick))


def on_tick(price: float, tick: float) -> bool:
    """True when `price` is a whole number of ticks (within float tolerance)."""
    ticks = price / tick
    return abs(ticks - round(ticks)) < 1e-6


class Market:
    """Quotes for every instrument of the universe, advanced explicitly by `step(now)`."""

    def __init__(
        self, seed: int, now: float, instruments: tuple[Instrument, ...] | Universe = UNIVERSE
    ) -> None:
        self.seed = seed
        self.universe = instruments if isinstance(instruments, Universe) else Universe(instruments)
        # Options come after their underlyings: they are priced from them on each step.
        ordered = sorted(self.universe, key=lambda i: i.is_derivative)
        self.instruments = {inst.key: inst for inst in ordered}
        self._rng: dict[str, random.Random] = {}
        self._fair: dict[str, float] = {}
        self._quotes: dict[str, QuoteState] = {}
        self._last_step = now
        for key, inst in self.instruments.items():
            rng = random.Random(f"{seed}:{key}")
            self._rng[key] = rng
            self._quotes[key] = self._initial_quote(inst, rng, now)

    # --- construction -------------------------------------------------------------------

    def _initial_quote(self, inst: Instrument, rng: random.Random, now: float) -> QuoteState:
        vol = inst.daily_volatility
        tick = inst.min_tick
        start = inst.start_price
        if inst.is_derivative:
            start = self._model_price(inst, now)
        close = round_to_tick(start * math.exp(rng.gauss(0, vol)), tick)
        open_ = round_to_tick(close * math.exp(rng.gauss(0, 0.3 * vol)), tick)
        fair = open_ * math.exp(rng.gauss(0, 0.6 * vol))
        if inst.is_derivative:
            fair = max(start, tick)
        last = round_to_tick(fair, tick)
        high = round_to_tick(max(open_, last) * (1 + abs(rng.gauss(0, 0.3 * vol))), tick)
        low = round_to_tick(min(open_, last) * (1 - abs(rng.gauss(0, 0.3 * vol))), tick)
        volume = float(round(inst.avg_daily_volume * rng.uniform(0.3, 0.9), -2))
        self._fair[inst.key] = fair
        q = QuoteState(
            symbol=inst.key,
            bid=last,
            ask=last,
            last=last,
            bid_size=0.0,
            ask_size=0.0,
            last_size=100.0,
            volume=volume,
            high=max(high, last),
            low=min(low, last),
            open=open_,
            close=close,
            last_time=now,
        )
        self._requote(inst, q, rng)
        return q

    def _lot(self, inst: Instrument) -> float:
        """Quote and trade size unit: 100k for FX, round lots of shares, contracts."""
        if inst.is_fx:
            return 100_000.0
        return {"OPT": 1.0, "FOP": 1.0, "FUT": 1.0, "BOND": 10.0, "CRYPTO": 0.01}.get(
            inst.sec_type, 100.0
        )

    def _model_price(self, inst: Instrument, now: float) -> float:
        return self.greeks(inst, now).price

    def greeks(self, inst: Instrument, now: float | None = None) -> Greeks:
        """The option model's price and greeks for `inst` (OPT/FOP) at the underlying's
        current fair price (TWS's model option computation, tick type 13)."""
        und = self._fair[inst.under_key]
        return greeks(inst, und, self._last_step if now is None else now)

    def fx_rate(self, currency: str, base: str) -> float:
        """Units of `base` one unit of `currency` is worth, at the FX midpoints (crossed
        through USD when there is no direct pair)."""
        if currency == base:
            return 1.0
        return self._usd_value(currency) / self._usd_value(base)

    def _usd_value(self, currency: str) -> float:
        if currency == "USD":
            return 1.0
        if f"{currency}.USD" in self._quotes:
            return self._quotes[f"{currency}.USD"].mid
        if f"USD.{currency}" in self._quotes:
            return 1.0 / self._quotes[f"USD.{currency}"].mid
        raise KeyError(f"no exchange rate for {currency}")

    def _requote(self, inst: Instrument, q: QuoteState, rng: random.Random) -> None:
        """New bid/ask around the fair price with a spread of 1-3 ticks."""
        tick = inst.min_tick
        spread = rng.choice((1, 1, 2, 2, 3))
        mid_ticks = self._fair[inst.key] / tick
        bid_ticks = max(1, round(mid_ticks - spread / 2))
        q.bid = round_to_tick(bid_ticks * tick, tick)
        q.ask = round_to_tick((bid_ticks + spread) * tick, tick)
        lot = self._lot(inst)
        q.bid_size = lot * rng.randint(1, 30)
        q.ask_size = lot * rng.randint(1, 30)

    # --- lookups ------------------------------------------------------------------------

    def _key(self, symbol: str) -> str:
        if symbol in self._quotes:
            return symbol
        inst = self.universe.find(symbol) or self.universe.find(local_symbol=symbol)
        if inst is None or inst.key not in self._quotes:
            raise KeyError(symbol)
        return inst.key

    def instrument(self, symbol: str) -> Instrument:
        return self.instruments[self._key(symbol)]

    def quote(self, symbol: str) -> QuoteState:
        """The live quote of `symbol` ("AAPL", "EUR.USD"); KeyError if unknown."""
        return self._quotes[self._key(symbol)]

    def quotes(self) -> dict[str, QuoteState]:
        return dict(self._quotes)

    # --- time ---------------------------------------------------------------------------

    def step(self, now: float) -> list[str]:
        """Advance every non-frozen instrument by one tick; returns the symbols that changed.

        One call is one 250 ms step; a longer gap since the previous call scales the move
        by sqrt(elapsed / 250 ms) (capped at one day), so quotes stay plausible when the
        caller pauses.
        """
        elapsed = now - self._last_step
        self._last_step = max(now, self._last_step)
        n = min(max(elapsed / STEP_SECONDS, 1.0), MAX_STEPS_PER_CALL)
        changed: list[str] = []
        for key, inst in self.instruments.items():
            q = self._quotes[key]
            if q.halted:
                continue
            before = (q.bid, q.ask, q.last, q.bid_size, q.ask_size, q.last_size, q.volume)
            self._advance(inst, q, self._rng[key], n, now)
            if before != (q.bid, q.ask, q.last, q.bid_size, q.ask_size, q.last_size, q.volume):
                changed.append(key)
        return changed

    def _advance(
        self, inst: Instrument, q: QuoteState, rng: random.Random, n: float, now: float
    ) -> None:
        sigma = inst.daily_volatility * math.sqrt(n / STEPS_PER_DAY)
        old_fair = self._fair[inst.key]
        if inst.is_derivative:  # follows its underlying through the option model
            fair = self._model_price(inst, now)
        else:
            fair = old_fair * math.exp(rng.gauss(0.0, sigma) - 0.5 * sigma * sigma)
        self._fair[inst.key] = max(fair, inst.min_tick)
        # Quotes refresh on most steps; sizes flicker even when prices do not move.
        if rng.random() < 0.7:
            self._requote(inst, q, rng)
        # A trade happens with probability growing with the elapsed time.
        if rng.random() < 1.0 - math.exp(-0.5 * n):
            buy = fair > old_fair if fair != old_fair else rng.random() < 0.5
            price = q.ask if buy else q.bid
            lot = self._lot(inst)
            per_step = inst.avg_daily_volume / STEPS_PER_DAY * n
            size = max(lot, round(rng.expovariate(1.0) * per_step * 2 / lot) * lot)
            q.last = price
            q.last_size = size
            q.volume += size
            q.high = max(q.high, price)
            q.low = min(q.low, price)
            q.last_time = now

    def set_price(self, symbol: str, price: float, now: float) -> QuoteState:
        """Move last/bid/ask to `price` (rounded to tick) at `now`; bid/ask one tick around it.

        Call the matching engine's `on_market(now)` afterwards so resting orders react.
        """
        key = self._key(symbol)
        inst = self.instruments[key]
        tick = inst.min_tick
        p = round_to_tick(price, tick)
        if p <= tick:
            raise ValueError(f"price {price} too low for {key}")
        q = self._quotes[key]
        self._fair[key] = p
        q.last = p
        q.bid = round_to_tick(p - tick, tick)
        q.ask = round_to_tick(p + tick, tick)
        q.high = max(q.high, p)
        q.low = min(q.low, p)
        q.last_time = now
        return q

    def freeze(self, symbol: str) -> None:
        """Stop ticking `symbol` (a halt); its quote keeps its last values."""
        self._quotes[self._key(symbol)].halted = True

    def unfreeze(self, symbol: str) -> None:
        self._quotes[self._key(symbol)].halted = False

    # --- history ------------------------------------------------------------------------

    def bars(
        self,
        symbol: str,
        end: float,
        duration: str,
        bar_size: str,
        what_to_show: str = "TRADES",
        use_rth: bool = True,
    ) -> list[Bar]:
        """Historical bars ending at `end` (epoch seconds), like reqHistoricalData.

        A seeded walk generated backwards from the current last price: the last bar's
        close is the quote's current last, and the same (seed, symbol, end, bar size)
        gives the same bars (a longer duration extends them further back). Intraday bars
        are stamped with their start in epoch seconds and, with `use_rth`, fall within
        09:30-16:00 US/Eastern on weekdays; daily and longer bars carry a date.
        Raises `HistoricalDataError` (a ValueError) with TWS's text for a bad request.
        """
        key = self._key(symbol)
        inst = self.instruments[key]
        if bar_size not in BAR_SIZES:
            raise HistoricalDataError(321, BAR_SIZE_INVALID)
        n, unit = parse_duration(duration)
        what = what_to_show.upper()
        if what not in WHAT_TO_SHOW:
            raise HistoricalDataError(321, WHAT_TO_SHOW_INVALID)
        start = _window_start(inst, end, n, unit, use_rth)
        span = end - start
        if bar_size in _DAILY_OR_LONGER:
            slots = _daily_slots(inst, start, end, bar_size, use_rth)
        else:
            step = BAR_SIZES[bar_size]
            if span / step > MAX_BARS * 10:
                raise HistoricalDataError(162, TIME_LENGTH_EXCEEDED)
            slots = _intraday_slots(inst, start, end, step, use_rth)
        if len(slots) > MAX_BARS:
            raise HistoricalDataError(162, TIME_LENGTH_EXCEEDED)
        return self._walk_back(inst, slots, bar_size, what, end)

    def _walk_back(
        self, inst: Instrument, slots: list, bar_size: str, what: str, end: float
    ) -> list[Bar]:
        """Bars of `slots` from the seeded factor model (history_model.py), anchored so the
        last close is the live last (or midpoint); a daily bar for today is today's session
        so far and the days before it end at the previous close."""
        midpoint = what in ("MIDPOINT", "BID_ASK") or inst.is_fx
        # Midpoints can sit half-way between ticks.
        tick = inst.min_tick / 2 if midpoint else inst.min_tick
        seconds = BAR_SIZES[bar_size]
        if bar_size in _DAILY_OR_LONGER:
            seconds = {"1 day": 1, "1W": 5, "1 week": 5}.get(bar_size, 21) * RTH_SECONDS
        scale = math.sqrt(min(seconds, 21 * RTH_SECONDS) / RTH_SECONDS)
        sigma = inst.daily_volatility * scale
        per_bar_volume = inst.avg_daily_volume * seconds / RTH_SECONDS
        q = self._quotes[inst.key]
        quoted = what in ("MIDPOINT", "BID", "ASK", "BID_ASK") or inst.is_fx
        last = q.mid if quoted else q.last
        keys = history_model.slot_numbers(slots, BAR_SIZES[bar_size])
        rets = history_model.log_returns(self.seed, inst, keys, bar_size, scale)
        shape = history_model.BarShape.of(self.seed, inst, keys, bar_size)
        today = datetime.fromtimestamp(end, EASTERN).date()
        live_day = bar_size == "1 day" and bool(slots) and slots[-1] == today and q.close > 0
        if live_day:  # today's bar is the session so far; earlier days end at the close
            closes = [*history_model.closes_back(q.close, rets[:-1]).tolist(), last]
            rets[-1] = math.log(last / q.close) if last > 0 else 0.0
        else:
            closes = history_model.closes_back(last, rets).tolist()
        half_spread = (q.ask - q.bid) / 2
        out: list[Bar] = []
        for i, slot in enumerate(slots):
            close = closes[i]
            open_ = close * math.exp(-rets[i] + 0.15 * sigma * shape.gap[i])
            if live_day and i == len(slots) - 1 and q.open > 0:
                open_ = q.open
            hi = max(open_, close) * (1 + abs(0.4 * sigma * shape.high[i]))
            lo = min(open_, close) * (1 - abs(0.4 * sigma * shape.low[i]))
            o, h, low, c = (round_to_tick(x, tick) for x in (open_, hi, lo, close))
            if what == "BID":
                o, h, low, c = (round_to_tick(x - half_spread, tick) for x in (o, h, low, c))
            elif what == "ASK":
                o, h, low, c = (round_to_tick(x + half_spread, tick) for x in (o, h, low, c))
            h = max(h, o, c)
            low = max(tick, min(low, o, c))
            if (what == "TRADES" and not inst.is_fx) or what == "ADJUSTED_LAST":
                busy = 1.0 + 0.5 * min(abs(rets[i]) / sigma, 4.0) if sigma else 1.0
                vol_noise = math.exp(0.35 * shape.volume[i]) * busy
                volume = float(max(100, round(per_bar_volume * vol_noise, -2)))
                wap = round((h + low + c) / 3, 4)
                count = max(1, int(volume / (120.0 * math.exp(0.15 * shape.count[i]))))
            else:
                volume, wap, count = -1.0, -1.0, -1
            out.append(Bar(slot, o, h, low, c, volume, wap, count))
        return out


def parse_duration(duration: str) -> tuple[int, str]:
    """(count, unit) of an IBKR durationStr ("60 S", "1 D", "2 W", "1 M", "1 Y")."""
    m = re.fullmatch(r"\s*(\d+)\s+([SDWMY])\s*", duration or "")
    if not m or int(m.group(1)) <= 0:
        raise HistoricalDataError(321, DURATION_INVALID)
    return int(m.group(1)), m.group(2)


def _midnight(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=EASTERN).timestamp()


def _day_started(inst: Instrument, d: date, end: float, use_rth: bool) -> bool:
    return any(lo < end for lo, _ in _session_bounds(inst, d, use_rth))


def _window_start(inst: Instrument, end: float, n: int, unit: str, use_rth: bool) -> float:
    """Start (epoch seconds) of the window a durationStr covers back from `end`.

    "N D" means the last N trading days (today's session counts once it has opened), as
    TWS does; S, W, M and Y are calendar spans (a month is 30 days, a year 365).
    """
    if unit == "D":
        d = datetime.fromtimestamp(end, EASTERN).date()
        found = 0
        for _ in range(n * 3 + 10):
            if _day_started(inst, d, end, use_rth):
                found += 1
                if found == n:
                    return _midnight(d)
            d -= timedelta(days=1)
        return _midnight(d)
    return end - n * {"S": 1, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}[unit]


def _session_bounds(inst: Instrument, day: date, use_rth: bool) -> list[tuple[float, float]]:
    """Trading windows (epoch seconds) of `day` in US/Eastern."""

    def at(d: date, hh: int, mm: int) -> float:
        return datetime(d.year, d.month, d.day, hh, mm, tzinfo=EASTERN).timestamp()

    wd = day.weekday()
    if inst.is_fx:
        # Sunday 17:15 to Friday 17:00, daily break 17:00-17:15.
        if wd == 5:
            return []
        windows = []
        if wd != 6:
            windows.append((at(day, 0, 0), at(day, 17, 0)))
        if wd != 4:
            windows.append((at(day, 17, 15), at(day + timedelta(days=1), 0, 0)))
        return windows
    if wd >= 5:
        return []
    if use_rth:
        return [(at(day, 9, 30), at(day, 16, 0))]
    return [(at(day, 4, 0), at(day, 20, 0))]


def _grid(day: date, lo: float, hi: float, step: int) -> list[float]:
    """Bar starts within [lo, hi): the session open, then clock-aligned boundaries (as TWS
    does: 1-hour RTH bars start 09:30, 10:00, 11:00, ...)."""
    midnight = _midnight(day)
    starts = []
    t = lo
    while t < hi:
        starts.append(t)
        t = midnight + (math.floor((t - midnight) / step) + 1) * step
    return starts


def _intraday_slots(
    inst: Instrument, start: float, end: float, step: int, use_rth: bool
) -> list[int]:
    """Bar start times (epoch seconds) of every bar overlapping [start, end) in session."""
    slots: list[int] = []
    day = datetime.fromtimestamp(start, EASTERN).date()
    last_day = datetime.fromtimestamp(end, EASTERN).date()
    while day <= last_day:
        for lo, hi in _session_bounds(inst, day, use_rth):
            starts = _grid(day, lo, hi, step)
            for i, t in enumerate(starts):
                bar_end = starts[i + 1] if i + 1 < len(starts) else hi
                if bar_end > start and t < end:
                    slots.append(int(t))
        day += timedelta(days=1)
    if not slots:
        # Nothing traded in the window (weekend, overnight): TWS answers with the most
        # recent session's bars covering the same span.
        day = datetime.fromtimestamp(end, EASTERN).date()
        for _ in range(10):
            windows = [(lo, hi) for lo, hi in _session_bounds(inst, day, use_rth) if lo < end]
            if windows:
                lo, hi = windows[-1]
                stop = min(hi, end)
                span = end - start
                starts = _grid(day, lo, stop, step)
                for i, t in enumerate(starts):
                    bar_end = starts[i + 1] if i + 1 < len(starts) else stop
                    if bar_end > stop - span:
                        slots.append(int(t))
                break
            day -= timedelta(days=1)
    return slots


def _daily_slots(
    inst: Instrument, start: float, end: float, bar_size: str, use_rth: bool
) -> list[date]:
    first = datetime.fromtimestamp(start, EASTERN).date()
    last = datetime.fromtimestamp(end, EASTERN).date()
    days = [
        first + timedelta(days=i)
        for i in range((last - first).days + 1)
        if (first + timedelta(days=i)).weekday() < 5
        and _midnight(first + timedelta(days=i)) >= start
        and _day_started(inst, first + timedelta(days=i), end, use_rth)
    ]
    if not days:  # e.g. "60 S" of daily bars on a weekend: the last trading day
        d = last
        while not _day_started(inst, d, end, use_rth) or d.weekday() >= 5:
            d -= timedelta(days=1)
        days = [d]
    if bar_size in ("1 day",):
        return days
    if bar_size in ("1W", "1 week"):
        weeks: dict[date, date] = {}
        for d in days:
            weeks.setdefault(d - timedelta(days=d.weekday()), d)
        return list(weeks.values())
    months: dict[tuple[int, int], date] = {}
    for d in days:
        months.setdefault((d.year, d.month), d)
    return list(months.values())
