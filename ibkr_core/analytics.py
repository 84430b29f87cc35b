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


AMBIGUOUS = pd.Timedelta(seconds=2)  # IBKR stamps executions to the second


def _attribute_fills(snaps: pd.DataFrame, f: pd.DataFrame) -> list[int | None]:
    """Which snapshot (position in `snaps`) first reflects each fill (None: none yet).

    A fill belongs to the first snapshot taken after it. A fill within a couple of
    seconds of a snapshot (execution times are whole seconds, the account update follows
    the fill) may or may not be in that snapshot's cash: the snapshot reflects the first
    few of them in time order, as many as best explain its cash change; the others go to
    the next snapshot."""
    taken = list(snaps["ts"])
    cash = [float(c) for c in snaps["total_cash"]]
    modelled = [k == "replay" for k in snaps.get("kind", pd.Series("live", index=snaps.index))]
    out: list[int | None] = [None] * len(f)
    times, flows = list(f["ts"]), list(f["cash"])

    def judgeable(i: int) -> bool:  # the step into snapshot i can tell trades from flows
        return i > 0 and not modelled[i - 1] and not np.isnan(cash[i] + cash[i - 1])

    j = 0
    carried: list[int] = []
    for i in range(len(taken)):
        certain = list(carried)
        while j < len(times) and times[j] < taken[i] - AMBIGUOUS:
            certain.append(j)
            j += 1
        ambiguous = []
        while j < len(times) and times[j] <= taken[i] + AMBIGUOUS:
            ambiguous.append(j)
            j += 1
        keep = len(ambiguous)  # the snapshot reflects the first `keep` of them
        amb = np.array([flows[k] for k in ambiguous])
        if ambiguous and judgeable(i):  # as many as explain this step's cash change
            change = cash[i] - cash[i - 1] - sum(flows[k] for k in certain)
            prefix = np.concatenate([[0.0], np.cumsum(amb)])
            keep = len(ambiguous) - int(np.argmin(np.abs(change - prefix)[::-1]))
        elif ambiguous and i + 1 < len(taken) and judgeable(i + 1):  # or the next one's
            later = sum(
                flows[m] for m in range(j, len(times)) if times[m] < taken[i + 1] - AMBIGUOUS
            )
            left = np.concatenate([np.cumsum(amb[::-1])[::-1], [0.0]])  # not kept, by keep
            residual = np.abs(cash[i + 1] - cash[i] - left - later)
            keep = len(ambiguous) - int(np.argmin(residual[::-1]))
        for k in certain + ambiguous[:keep]:
            out[k] = i
        carried = ambiguous[keep:]
    return out


def account_history(
    snapshots: pd.DataFrame, fills: pd.DataFrame | None = None, base_currency: str = "USD"
) -> AccountHistory:
    """Daily net liquidation (the day's last snapshot), daily P&L and TWR sub-returns.

    A deposit or withdrawal is a change of cash between two snapshots that the fills in
    between do not explain (cash after = cash before - buys + sells - commissions); it is
    taken out of the day's P&L and return (flow at the end of the day). Replayed demo
    values (kind "replay") are a model, so the step from them to the first recorded
    snapshot is not read as a flow. Fills in another currency cannot be matched without
    the day's rate, so those days are marked not adjusted.
    """
    columns = ["net_liquidation", "total_cash", "flow", "pnl", "twr_return"]
    if snapshots is None or snapshots.empty:
        return AccountHistory(pd.DataFrame(columns=columns), True)
    snaps = snapshots.sort_values("ts").reset_index(drop=True)
    snaps["ts"] = pd.to_datetime(snaps["ts"]).dt.tz_convert("UTC")
    snaps["day"] = snaps["ts"].dt.tz_localize(None).dt.normalize()
    kind = snaps["kind"] if "kind" in snaps else pd.Series("live", index=snaps.index)
    trade = np.zeros(len(snaps))
    foreign = np.zeros(len(snaps), dtype=bool)
    if fills is not None and not fills.empty:
        f = fills.copy()
        f["ts"] = pd.to_datetime(f["ts"]).dt.tz_convert("UTC")
        f = f.sort_values("ts").reset_index(drop=True)
        sign = np.where(f["side"].str.upper().str.startswith("S"), 1.0, -1.0)
        commission = f["commission"].astype("float64").fillna(0.0)
        f["cash"] = sign * f["shares"].astype("float64") * f["price"] - commission
        for k, i in enumerate(_attribute_fills(snaps, f)):
            if i is not None:
                trade[i] += f.at[k, "cash"]
                foreign[i] |= f.at[k, "currency"] != base_currency
    unexplained = snaps["total_cash"].diff() - trade
    modelled = (kind.shift(1) == "replay") | (kind == "replay")
    tolerance = np.maximum(1.0, 1e-4 * snaps["net_liquidation"].abs())
    step_flow = unexplained.where((unexplained.abs() > tolerance) & ~modelled & ~foreign, 0.0)
    step_flow = step_flow.fillna(0.0)
    daily = snaps.groupby("day")[["net_liquidation", "total_cash"]].last()
    flow = step_flow.groupby(snaps["day"]).sum().reindex(daily.index, fill_value=0.0)
    adjusted = True
    note = None
    if foreign.any():
        adjusted = False
        note = "Days with fills in another currency are not adjusted for deposits."
    if snaps["total_cash"].isna().any():
        adjusted = False
        note = "Cash was not known on some days: returns there are not adjusted for deposits."
    previous = daily["net_liquidation"].shift(1)
    pnl = daily["net_liquidation"] - previous - flow
    twr_return = pnl / previous.where(previous > 0)
    out = daily.assign(flow=flow, pnl=pnl, twr_return=twr_return)[columns]
    return AccountHistory(out, adjusted, note)
