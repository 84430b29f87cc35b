"""The simulator's history is worth exploring: two years of daily bars and 30 days of
intraday bars per instrument, stocks co-moving with SPY, sectors co-moving more, realistic
volatilities, the same bars from the same seed whatever the request window."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from ibkr_core.simulator.market import Market
from ibkr_core.simulator.universe import EASTERN, UNIVERSE

NOW = datetime(2026, 11, 18, 11, 0, tzinfo=EASTERN).timestamp()  # a Wednesday, in session


def closes(m: Market, symbol: str, duration: str = "2 Y", bar: str = "1 day") -> np.ndarray:
    return np.array([b.close for b in m.bars(symbol, NOW, duration, bar)])


def returns(m: Market, symbol: str) -> np.ndarray:
    c = closes(m, symbol)
    return np.diff(np.log(c))


def test_two_years_of_daily_and_thirty_days_of_intraday_bars_for_every_instrument():
    m = Market(7, NOW)
    for inst in UNIVERSE:
        daily = m.bars(inst.key, NOW, "2 Y", "1 day", "MIDPOINT" if inst.is_fx else "TRADES")
        assert len(daily) >= 500, inst.key
        intraday = m.bars(inst.key, NOW, "30 D", "5 mins", "MIDPOINT" if inst.is_fx else "TRADES")
        days = {datetime.fromtimestamp(b.time, EASTERN).date() for b in intraday}
        assert len(days) >= 30, inst.key
        assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in daily)


def test_stocks_co_move_with_spy_and_more_within_a_sector():
    m = Market(7, NOW)
    r = {s: returns(m, s) for s in ("SPY", "AAPL", "MSFT", "JPM", "BAC", "XOM", "TLT", "GLD")}

    def corr(a: str, b: str) -> float:
        return float(np.corrcoef(r[a], r[b])[0, 1])

    for stock in ("AAPL", "MSFT", "JPM", "BAC", "XOM"):
        assert 0.35 < corr(stock, "SPY") < 0.9, stock
    assert corr("AAPL", "MSFT") > corr("AAPL", "JPM") + 0.1  # same sector: technology
    assert corr("JPM", "BAC") > corr("JPM", "XOM") + 0.1  # same sector: financials
    assert corr("TLT", "SPY") < 0 and abs(corr("GLD", "SPY")) < 0.3  # bonds, gold


def test_volatilities_are_the_instruments_own():
    m = Market(7, NOW)
    for inst in UNIVERSE:
        if inst.is_fx:
            continue
        vol = float(np.std(returns(m, inst.key), ddof=1))
        assert vol == pytest.approx(inst.daily_volatility, rel=0.2), inst.key


def test_same_seed_same_history_and_windows_agree():
    a, b = Market(7, NOW), Market(7, NOW)
    assert a.bars("AAPL", NOW, "1 Y", "1 day") == b.bars("AAPL", NOW, "1 Y", "1 day")
    assert not np.array_equal(closes(Market(8, NOW), "AAPL"), closes(a, "AAPL"))
    year = a.bars("AAPL", NOW, "1 Y", "1 day")
    two = a.bars("AAPL", NOW, "2 Y", "1 day")
    assert two[-len(year) :] == year  # a longer window extends the shorter one backwards
    month = a.bars("AAPL", NOW, "30 D", "1 hour")
    assert a.bars("AAPL", NOW, "60 D", "1 hour")[-len(month) :] == month
