"""Performance statistics for Explore and the account's value over time.

The statistics come from ``empyrical-reloaded`` (Stefan Jansen's maintained fork of
Quantopian's empyrical, the formulas behind pyfolio and zipline): a small library of pure
functions over return series, numpy/pandas/scipy only. ``quantstats`` pulls in
matplotlib, seaborn and yfinance for its tearsheets and ``ffn`` its own plotting stack;
we need only the numbers, so empyrical is the lightest well-kept choice. Correlations are
pandas' ``corr``. Our own code only aligns series, rebases and detects cash flows.

Conventions: daily simple returns, 252 trading days a year, risk-free rate 0 unless
given, sample standard deviation (ddof=1) as empyrical does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import empyrical as ep
import numpy as np
import pandas as pd

__all__ = [
    "STAT_COLUMNS",
    "AccountHistory",
    "account_history",
    "correlation",
    "daily_returns",
    "drawdown",
    "period_returns",
    "rebased",
    "rolling_volatility",
    "statistics",
]

TRADING_DAYS = 252
STAT_COLUMNS = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "beta",
    "correlation",
)


def daily_returns(closes: pd.DataFrame) -> pd.DataFrame:
    """Simple daily returns per column; a column's gaps (holidays) do not make returns."""
    return closes.apply(lambda c: c.dropna().pct_change()).iloc[1:]


def rebased(closes: pd.DataFrame, base: float = 100.0) -> pd.DataFrame:
    """Each column divided by its first value, times `base`."""
    return closes.apply(lambda c: c / c.dropna().iloc[0] * base if c.notna().any() else c)


def drawdown(closes: pd.DataFrame) -> pd.DataFrame:
    """Fall from the running peak, as a fraction (0 at a new high, -0.2 = 20 % below)."""
    return closes / closes.cummax() - 1.0


def rolling_volatility(closes: pd.DataFrame, window: int = 21) -> pd.DataFrame:
    """Annualised volatility of daily returns over a rolling `window` of trading days."""
    returns = closes.apply(lambda c: c.dropna().pct_change())
    return returns.rolling(window, min_periods=window).std() * np.sqrt(TRADING_DAYS)


def correlation(closes: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation of daily returns, over the days both instruments traded."""
    return daily_returns(closes).corr()


def statistics(
    closes: pd.DataFrame, benchmark: str | None = None, risk_free: float = 0.0
) -> pd.DataFrame:
    """One row per column of `closes`: STAT_COLUMNS (returns and drawdown as fractions).

    Beta and correlation are against the `benchmark` column, over common days."""
    rows: dict[str, dict[str, float]] = {}
    bench = closes[benchmark].dropna().pct_change().dropna() if benchmark in closes else None
    for name in closes.columns:
        r = closes[name].dropna().pct_change().dropna()
        row = dict.fromkeys(STAT_COLUMNS, np.nan)
        if len(r) >= 2:
            row.update(
                total_return=float(ep.cum_returns_final(r)),
                annual_return=float(ep.annual_return(r, period="daily")),
                annual_volatility=float(ep.annual_volatility(r, period="daily")),
                sharpe=float(ep.sharpe_ratio(r, risk_free=risk_free, period="daily")),
                sortino=float(ep.sortino_ratio(r, period="daily")),
                max_drawdown=float(ep.max_drawdown(r)),
            )
            if bench is not None:
                pair = pd.concat([r, bench], axis=1, join="inner").dropna()
                if len(pair) >= 2:
                    row["beta"] = float(ep.beta(pair.iloc[:, 0], pair.iloc[:, 1]))
                    row["correlation"] = float(pair.iloc[:, 0].corr(pair.iloc[:, 1]))
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(STAT_COLUMNS))


def period_returns(closes: pd.DataFrame, today: date) -> pd.DataFrame:
    """Month-to-date, year-to-date and one-year returns per column (NaN when the series
    does not reach back far enough)."""
    starts = {
        "MTD": date(today.year, today.month, 1),
        "YTD": date(today.year, 1, 1),
        "1Y": today - timedelta(days=365),
    }
    out: dict[str, dict[str, float]] = {}
    for name in closes.columns:
        c = closes[name].dropna()
        row: dict[str, float] = {}
        for label, start in starts.items():
            days = pd.DatetimeIndex(c.index).tz_localize(None).normalize()
            # MTD / YTD start from the last close before the period; 1Y from the close
            # a year ago (on or before that day).
            cut = pd.Timestamp(start) + pd.Timedelta(days=1 if label == "1Y" else 0)
            before = c[days < cut]
            row[label] = float(c.iloc[-1] / before.iloc[-1] - 1.0) if len(before) else np.nan
        out[name] = row
    return pd.DataFrame.from_dict(out, orient="index", columns=list(starts))


# -- the account's value over time --------------------------------------------------------


@dataclass(frozen=True)
class AccountHistory:
    """Daily account values from snapshots (base currency)."""

    daily: pd.DataFrame  # index: date; net_liquidation, total_cash, flow, pnl, twr_return
    adjusted: bool  # False: some flows could not be told from trades (say "not adjusted")
    note: str | None = None

    def twr(self, start: date | None = None) -> float | None:
        """Time-weighted return (chain-linked daily) from `start` (default: all)."""
        r = self.daily["twr_return"].dropna()
        if start is not None:
            r = r[r.index >= pd.Timestamp(start)]
        return float((1.0 + r).prod() - 1.0) if len(r) else None


def account_history(
    snapshots: pd.DataFrame, fills: pd.DataFrame | None = None, base_currency: str = "USD"
) -> AccountHistory:
    """Daily net liquidation (the day's last snapshot), daily P&L and TWR sub-returns.

    A deposit or withdrawal is a change of cash that the day's fills do not explain
    (cash after fills = cash before - buys + sells - commissions); it is taken out of the
    day's P&L and return (flow at the end of the day). Fills in another currency cannot
    be matched without the day's rate, so those days are marked not adjusted.
    """
    columns = ["net_liquidation", "total_cash", "flow", "pnl", "twr_return"]
    if snapshots is None or snapshots.empty:
        return AccountHistory(pd.DataFrame(columns=columns), True)
    snaps = snapshots.sort_values("ts").copy()
    snaps["ts"] = pd.to_datetime(snaps["ts"]).dt.tz_convert("UTC")
    snaps["day"] = snaps["ts"].dt.tz_localize(None).dt.normalize()
    last = snaps.groupby("day").last()
    daily = last[["net_liquidation", "total_cash"]]
    trade_cash = pd.Series(0.0, index=daily.index)
    foreign_days: set[pd.Timestamp] = set()
    if fills is not None and not fills.empty:
        f = fills.copy()
        f["ts"] = pd.to_datetime(f["ts"]).dt.tz_convert("UTC")
        sign = np.where(f["side"].str.upper().str.startswith("S"), 1.0, -1.0)
        commission = f["commission"].astype("float64").fillna(0.0)
        f["cash"] = sign * f["shares"].astype("float64") * f["price"] - commission
        # A fill belongs to the first daily value taken after it (a fill after the day's
        # last snapshot shows in the next one's cash).
        taken = last["ts"].dt.tz_localize(None).to_numpy("datetime64[ns]")
        filled = f["ts"].dt.tz_localize(None).to_numpy("datetime64[ns]")
        slot = np.searchsorted(taken, filled, side="left")
        inside = slot < len(last)
        f = f[inside].assign(day=daily.index[slot[inside]])
        foreign_days = set(f.loc[f["currency"] != base_currency, "day"])
        trade_cash = f.groupby("day")["cash"].sum().reindex(daily.index, fill_value=0.0)
    cash_change = daily["total_cash"].diff()
    unexplained = cash_change - trade_cash
    tolerance = np.maximum(1.0, 1e-4 * daily["net_liquidation"].abs())
    flow = unexplained.where(unexplained.abs() > tolerance, 0.0).fillna(0.0)
    adjusted = True
    note = None
    if foreign_days & set(daily.index):
        flow[flow.index.isin(list(foreign_days))] = 0.0
        adjusted = False
        note = "Days with fills in another currency are not adjusted for deposits."
    if daily["total_cash"].isna().any():
        adjusted = False
        note = "Cash was not known on some days: returns there are not adjusted for deposits."
    previous = daily["net_liquidation"].shift(1)
    pnl = daily["net_liquidation"] - previous - flow
    twr_return = pnl / previous.where(previous > 0)
    out = daily.assign(flow=flow, pnl=pnl, twr_return=twr_return)[columns]
    return AccountHistory(out, adjusted, note)
