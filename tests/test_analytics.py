"""Statistics (empyrical-reloaded) against formulas written out here with numpy, and the
account's value over time with deposits told apart from trading."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from ibkr_core import analytics

DAYS = pd.bdate_range("2025-01-02", periods=300, tz="UTC", name="date")


def known_closes() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    market = rng.normal(0.0004, 0.009, len(DAYS) - 1)
    stock = 1.3 * market + rng.normal(0.0002, 0.012, len(DAYS) - 1)
    closes = {}
    for name, r in (("SPY", market), ("AAPL", stock)):
        closes[name] = 100.0 * np.concatenate([[1.0], np.cumprod(1.0 + r)])
    frame = pd.DataFrame(closes, index=DAYS)
    frame.iloc[5, 1] = np.nan  # a day AAPL did not trade: no return made up for it
    return frame


def independent(closes: pd.Series, bench: pd.Series) -> dict[str, float]:
    """The textbook formulas, written without empyrical."""
    c = closes.dropna().to_numpy()
    r = c[1:] / c[:-1] - 1.0
    n = len(r)
    total = np.prod(1.0 + r) - 1.0
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))
    pair = pd.concat([closes.dropna().pct_change(), bench.dropna().pct_change()], axis=1)
    pair = pair.dropna().to_numpy()
    x, y = pair[:, 0], pair[:, 1]
    return {
        "total_return": total,
        "annual_return": (1.0 + total) ** (252 / n) - 1.0,
        "annual_volatility": np.std(r, ddof=1) * np.sqrt(252),
        "sharpe": np.mean(r) / np.std(r, ddof=1) * np.sqrt(252),
        "sortino": np.mean(r) * np.sqrt(252) / downside,
        "max_drawdown": np.min(c / np.maximum.accumulate(c) - 1.0),
        "beta": np.sum((x - x.mean()) * (y - y.mean())) / np.sum((y - y.mean()) ** 2),
        "correlation": np.corrcoef(x, y)[0, 1],
    }


def test_statistics_match_the_textbook_formulas():
    closes = known_closes()
    stats = analytics.statistics(closes, "SPY")
    assert list(stats.columns) == list(analytics.STAT_COLUMNS)
    for name in ("AAPL", "SPY"):
        expected = independent(closes[name], closes["SPY"])
        for column, value in expected.items():
            assert stats.loc[name, column] == pytest.approx(value, rel=1e-9), (name, column)
    assert stats.loc["SPY", "beta"] == pytest.approx(1.0)
    assert 1.0 < stats.loc["AAPL", "beta"] < 1.6 and 0.5 < stats.loc["AAPL", "correlation"] < 1


def test_known_answers():
    steady = pd.DataFrame({"X": 100.0 * 1.01 ** np.arange(253)}, index=pd.bdate_range(
        "2025-01-02", periods=253, tz="UTC"))  # fmt: skip
    s = analytics.statistics(steady).loc["X"]
    assert s["total_return"] == pytest.approx(1.01**252 - 1)
    assert s["annual_return"] == pytest.approx(1.01**252 - 1)
    assert s["annual_volatility"] == pytest.approx(0.0, abs=1e-12)
    assert s["max_drawdown"] == 0.0
    assert np.isnan(s["beta"])  # no benchmark given: unknown, not zero
    # a fall from the very first close counts: 100 -> 75 is -25 %
    dip = pd.DataFrame({"X": [100.0, 75.0, 90.0, 130.0, 104.0]}, index=DAYS[:5])
    assert analytics.statistics(dip).loc["X", "max_drawdown"] == pytest.approx(-0.25)
    assert analytics.drawdown(dip)["X"].tolist() == pytest.approx([0, -0.25, -0.1, 0, -0.2])
    assert analytics.rebased(dip)["X"].tolist() == pytest.approx([100, 75, 90, 130, 104])


def test_rolling_volatility_and_correlation_match_numpy():
    closes = known_closes()
    vol = analytics.rolling_volatility(closes, 21)
    r = closes["SPY"].pct_change().to_numpy()
    assert vol["SPY"].iloc[21] == pytest.approx(np.std(r[1:22], ddof=1) * np.sqrt(252))
    assert vol["SPY"].iloc[:21].isna().all()
    corr = analytics.correlation(closes)
    expected = independent(closes["AAPL"], closes["SPY"])["correlation"]
    assert corr.loc["AAPL", "SPY"] == pytest.approx(expected)
    assert corr.loc["AAPL", "AAPL"] == pytest.approx(1.0)


def test_returns_by_period():
    index = pd.DatetimeIndex(
        ["2025-11-14", "2025-12-01", "2025-12-31", "2026-01-02", "2026-10-30", "2026-11-02",
         "2026-11-17"], tz="UTC")  # fmt: skip
    closes = pd.DataFrame({"X": [80.0, 100.0, 110.0, 111.0, 120.0, 125.0, 132.0]}, index=index)
    periods = analytics.period_returns(closes, date(2026, 11, 18)).loc["X"]
    assert periods["MTD"] == pytest.approx(132 / 120 - 1)  # from October's last close
    assert periods["YTD"] == pytest.approx(132 / 110 - 1)  # from last year's last close
    assert periods["1Y"] == pytest.approx(132 / 80 - 1)  # the close on or before 2025-11-18
    short = closes.iloc[3:]
    assert np.isnan(analytics.period_returns(short, date(2026, 11, 18)).loc["X", "1Y"])


def snap(day: int, nlv: float, cash: float) -> dict:
    return {"ts": datetime(2026, 3, day, 21, tzinfo=UTC), "net_liquidation": nlv,
            "total_cash": cash, "currency": "USD", "kind": "live"}  # fmt: skip


def test_account_history_tells_deposits_from_trading():
    snapshots = pd.DataFrame(
        [
            snap(2, 1000.0, 1000.0),
            snap(3, 1100.0, 1100.0),  # +100 cash, no fills: a deposit, not a gain
            snap(4, 1110.0, 1049.0),  # bought 5 @ 10 with 1 commission, then +10 value
            snap(5, 1010.0, 949.0),  # withdrew 100 and nothing else moved
        ]
    )
    fills = pd.DataFrame(
        [{"ts": datetime(2026, 3, 4, 15, tzinfo=UTC), "side": "BOT", "shares": 5.0,
          "price": 10.0, "commission": 1.0, "currency": "USD"}]
    )  # fmt: skip
    h = analytics.account_history(snapshots, fills)
    assert h.adjusted
    assert h.daily["flow"].tolist() == [0.0, 100.0, 0.0, -100.0]
    assert h.daily["pnl"].tolist()[1:] == pytest.approx([0.0, 10.0, 0.0])
    assert h.twr() == pytest.approx((1 + 0.0) * (1 + 10 / 1100) * (1 + 0.0) - 1)
    assert h.twr(date(2026, 3, 5)) == pytest.approx(0.0)


def test_a_fill_after_the_days_last_snapshot_counts_on_the_next_day():
    snapshots = pd.DataFrame([snap(2, 1000.0, 1000.0), snap(3, 1000.0, 1000.0),
                              snap(4, 1000.0, 500.0)])  # fmt: skip
    late = datetime(2026, 3, 3, 22, tzinfo=UTC)  # after the 21:00 snapshot of the 3rd
    fills = pd.DataFrame([{"ts": late, "side": "BOT", "shares": 5.0, "price": 100.0,
                           "commission": 0.0, "currency": "USD"}])  # fmt: skip
    h = analytics.account_history(snapshots, fills)
    assert h.daily["flow"].tolist() == [0.0, 0.0, 0.0]  # the 4th's cash drop is the buy
    assert h.daily["pnl"].tolist()[1:] == [0.0, 0.0]


def test_fills_within_a_second_of_a_snapshot_count_as_far_as_its_cash_shows():
    t = datetime(2026, 3, 3, 21, 0, 0, 500000, tzinfo=UTC)
    snapshots = pd.DataFrame(
        [snap(2, 1000.0, 1000.0), {**snap(3, 1000.0, 900.0), "ts": t}, snap(4, 1000.0, 600.0)]
    )
    fills = pd.DataFrame(
        [{"ts": t.replace(microsecond=0), "side": "BOT", "shares": 1.0, "price": p,
          "commission": 0.0, "currency": "USD"} for p in (100.0, 100.0, 200.0)]
    )  # fmt: skip  # execution times are whole seconds: all three look "before" it
    h = analytics.account_history(snapshots, fills)
    assert h.daily["flow"].tolist() == [0.0, 0.0, 0.0]  # 1 fill in the 3rd's cash, 2 next day


def test_the_step_from_replayed_values_to_recorded_ones_is_not_a_deposit():
    replayed = [{**snap(d, 1000.0 + d, 900.0), "kind": "replay"} for d in (2, 3)]
    snapshots = pd.DataFrame([*replayed, snap(4, 1010.0, 950.0), snap(5, 1110.0, 1050.0)])
    h = analytics.account_history(snapshots, None)
    assert h.daily["flow"].tolist() == [0.0, 0.0, 0.0, 100.0]  # only the real deposit


@pytest.mark.parametrize("reflected", [True, False])
def test_fills_at_the_first_recorded_snapshot_after_a_replay(reflected):
    t = datetime(2026, 3, 4, 9, 0, 0, 300000, tzinfo=UTC)
    replayed = [{**snap(d, 1000.0, 900.0), "kind": "replay"} for d in (2, 3)]
    first = {**snap(4, 1000.0, 800.0 if reflected else 900.0), "ts": t}
    later = {**snap(4, 1000.0, 800.0), "ts": t.replace(second=30)}
    fills = pd.DataFrame([{"ts": t.replace(microsecond=0), "side": "BOT", "shares": 1.0,
                           "price": 100.0, "commission": 0.0, "currency": "USD"}])  # fmt: skip
    h = analytics.account_history(pd.DataFrame([*replayed, first, later]), fills)
    assert h.daily["flow"].tolist() == [0.0, 0.0, 0.0]  # the fill, whichever shows it


def test_account_history_without_cash_is_stated_as_not_adjusted():
    snapshots = pd.DataFrame([snap(2, 1000.0, 1000.0), snap(3, 1100.0, float("nan"))])
    h = analytics.account_history(snapshots, None)
    assert not h.adjusted and "not adjusted" in h.note
    assert analytics.account_history(pd.DataFrame(), None).twr() is None
