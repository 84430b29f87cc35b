"""Explore: compare several instruments over a range against a benchmark.

A thin view: daily bars come from ``services.history.daily`` (the local store first,
then only the missing tail from IBKR / the simulator / Yahoo), every number from
``ibkr_core/analytics.py``. Each table shown is downloadable exactly as shown.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from datetime import date, timedelta
from io import BytesIO

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ibkr_core import analytics
from ibkr_core.history import LOOKBACK_DAYS, YEAR_AND_A_WEEK, DailySeries, range_start
from ibkr_core.watchlist import InvalidSymbolError, parse_symbol
from pages.account_history import plain
from pages.components import require_services

RANGES = (*LOOKBACK_DAYS, "Dates")
DEFAULT_COUNT = 5
MAX_INSTRUMENTS = 20
VOL_WINDOW = 21
PARALLEL_FETCHES = 4

services = require_services()


def _candidates() -> tuple[list[str], list[str]]:
    """Positions first (what the user holds), then the watchlist; and the holdings left
    out. Explore's daily series are by symbol (a US stock or ETF), so an option, future,
    bond, FX or foreign listing would be compared as some other instrument: those are
    named by their description instead and left out."""
    held: list[str] = []
    left_out: list[str] = []
    if services.connection.ib_ready():
        try:
            rows = [p for p in services.portfolio.positions() if p.quantity]
        except Exception:  # the page still works from the watchlist
            rows = []
        for p in rows:
            if p.sec_type == "STK" and p.currency == "USD":
                held.append(p.symbol)
            else:
                left_out.append(p.description or p.local_symbol or p.symbol)
    return list(dict.fromkeys([*held, *services.watchlist.symbols()])), list(
        dict.fromkeys(left_out)
    )


def _typed(raw: str) -> tuple[list[str], list[str]]:
    symbols, errors = [], []
    for part in raw.replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            symbols.append(parse_symbol(part))
        except InvalidSymbolError as exc:
            errors.append(str(exc))
    return symbols, errors


def _controls() -> tuple[list[str], date, date, str]:
    options, left_out = _candidates()
    top = st.columns([3, 2, 1])
    typed_raw = top[1].text_input(
        "Add symbols", key="ex_typed", placeholder="e.g. QQQ, GLD", help="Comma separated"
    )
    typed, errors = _typed(typed_raw)
    for error in errors:
        st.error(plain(error))
    options = list(dict.fromkeys([*options, *typed]))
    chosen = top[0].multiselect(
        "Instruments",
        options,
        default=[*options[:DEFAULT_COUNT], *[t for t in typed if t not in options[:DEFAULT_COUNT]]],
        key="ex_symbols",
        max_selections=MAX_INSTRUMENTS,
    )
    if left_out:
        st.caption(
            plain(
                f"Explore compares US stocks and ETFs; {len(left_out)} holding(s) left out: "
                + "; ".join(left_out)
            )
        )
    benchmark_raw = top[2].text_input("Benchmark", value="SPY", key="ex_benchmark")
    try:
        benchmark = parse_symbol(benchmark_raw)
    except InvalidSymbolError as exc:
        st.error(plain(str(exc)) + " Using SPY.")
        benchmark = "SPY"
    today = services.history.today()
    choice = st.segmented_control("Range", RANGES, default="1Y", key="ex_range") or "1Y"
    if choice == "Dates":
        picked = st.date_input(
            "From / to",
            value=(today - timedelta(days=365), today),
            max_value=today,
            key="ex_dates",
        )
        if isinstance(picked, tuple) and len(picked) == 2:
            start, end = picked
        else:
            st.info("Pick both a start and an end date.")
            st.stop()
    else:
        start, end = range_start(choice, today), today
    return chosen, start, end, benchmark


def _load(symbols: list[str], start: date, end: date) -> dict[str, DailySeries]:
    """Every symbol's daily series (a few at a time: IBKR's pacing is per contract), with
    progress per instrument."""
    out: dict[str, DailySeries] = {}
    with st.status(f"Loading daily bars for {len(symbols)} instruments…") as status:
        bar = st.progress(0.0)
        with ThreadPoolExecutor(PARALLEL_FETCHES, thread_name_prefix="explore") as pool:
            futures = {pool.submit(services.history.daily, s, start, end): s for s in symbols}
            for i, future in enumerate(as_completed(futures), 1):
                symbol = futures[future]
                series = out[symbol] = future.result()  # daily() never raises
                if series.ok:
                    how = (
                        f"{series.from_store} from the store, {series.fetched} fetched"
                        if series.requests
                        else f"{len(series.frame)} from the store"
                    )
                    status.write(
                        plain(f"{symbol}: {len(series.frame)} bars ({how}; {series.source})")
                    )
                else:
                    status.write(plain(f"{symbol}: no bars"))
                bar.progress(i / len(symbols), text=f"{symbol} ({i}/{len(symbols)})")
        missing = [s for s, v in out.items() if not v.ok]
        status.update(
            label=f"Loaded {len(symbols) - len(missing)} of {len(symbols)} instruments",
            state="error" if len(missing) == len(symbols) else "complete",
            expanded=False,
        )
    return {s: out[s] for s in symbols}


def _window(series: DailySeries, start: date) -> DailySeries:
    frame = series.frame[series.frame.index >= pd.Timestamp(start, tz="UTC")]
    return replace(series, frame=frame)


def _problems(loaded: dict[str, DailySeries], start: date) -> None:
    for symbol, series in loaded.items():
        if not series.ok:
            why = "; ".join(series.problems) or "no source had daily bars"
            st.warning(plain(f"{symbol}: nothing to show. {why}"), icon=":material/error:")
            continue
        first = series.frame.index[0].date()
        if first > start + timedelta(days=7):
            st.info(plain(f"{symbol}: bars start on {first}, later than the range."))
        for problem in series.problems:
            st.info(plain(f"{symbol}: {problem}"))


def _figure(closes: pd.DataFrame, labels: dict[str, str]) -> go.Figure:
    rebased = analytics.rebased(closes)
    dd = analytics.drawdown(closes)
    vol = analytics.rolling_volatility(closes, VOL_WINDOW)
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        row_heights=[0.5, 0.25, 0.25],
        subplot_titles=(
            "Performance (rebased to 100)",
            "Drawdown",
            f"Rolling volatility ({VOL_WINDOW} d)",
        ),
    )
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf"]  # fmt: skip
    for i, col in enumerate(closes.columns):
        color = palette[i % len(palette)]
        common = {"legendgroup": col, "line": {"color": color, "width": 1.6}}
        fig.add_trace(go.Scatter(x=rebased.index, y=rebased[col], name=labels[col], **common), 1, 1)
        fig.add_trace(go.Scatter(x=dd.index, y=dd[col], showlegend=False, name=col, **common), 2, 1)
        fig.add_trace(
            go.Scatter(x=vol.index, y=vol[col], showlegend=False, name=col, **common), 3, 1
        )
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_yaxes(tickformat=".0%", row=3, col=1)
    fig.update_layout(
        height=720, margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="x unified"
    )
    return fig


def _heatmap(corr: pd.DataFrame) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=corr.to_numpy(),
            x=list(corr.columns),
            y=list(corr.index),
            zmin=-1,
            zmax=1,
            colorscale="RdBu_r",
            text=corr.round(2).to_numpy(),
            texttemplate="%{text}",
        )
    )
    fig.update_layout(height=120 + 40 * len(corr), margin={"l": 10, "r": 10, "t": 10, "b": 10})
    fig.update_yaxes(autorange="reversed")  # same order top-down as left-right
    return fig


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=True).encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = BytesIO()
    frame.to_parquet(buffer, index=True)
    return buffer.getvalue()


def _downloads(name: str, frame: pd.DataFrame, key: str) -> None:
    box = st.container(horizontal=True)
    box.download_button(
        "CSV", csv_bytes(frame), f"{name}.csv", "text/csv", key=f"{key}_csv",
        icon=":material/download:",
    )  # fmt: skip
    box.download_button(
        "Parquet",
        parquet_bytes(frame),
        f"{name}.parquet",
        "application/vnd.apache.parquet",
        key=f"{key}_parquet",
        icon=":material/download:",
    )


PCT = st.column_config.NumberColumn(format="percent")
RATIO = st.column_config.NumberColumn(format="%.2f")


def _table(title: str, frame: pd.DataFrame, key: str, ratios: tuple[str, ...] = ()) -> None:
    st.subheader(title)
    config = {c: (RATIO if c in ratios else PCT) for c in frame.columns}
    st.dataframe(frame, column_config=config, key=f"{key}_table")
    _downloads(key, frame, key)


def main() -> None:
    st.title("Explore")
    store = services.store
    if store.status.message:
        st.warning(plain(store.status.message), icon=":material/database:")
    symbols, start, end, benchmark = _controls()
    if not symbols:
        st.info("Choose one or more instruments to compare.")
        return
    wanted = list(dict.fromkeys([*symbols, benchmark]))
    today = services.history.today()
    # Returns by period need a year and a few days whatever range is shown.
    loaded = _load(wanted, min(start, today - timedelta(days=YEAR_AND_A_WEEK)), end)
    full = {s: v.frame["close"] for s, v in loaded.items() if v.ok}
    loaded = {s: _window(v, start) for s, v in loaded.items()}
    _problems(loaded, start)
    ok = {s: v for s, v in loaded.items() if v.ok and s in symbols}
    if not ok:
        st.error("None of the chosen instruments has daily bars in this range.")
        return
    sources = {v.source for v in loaded.values() if v.ok}
    if "Simulator" in sources:
        st.caption("Prices from the built-in simulated gateway: made-up data for the demo.")
    columns = list(ok)
    bench_ok = loaded[benchmark].ok
    if bench_ok and benchmark not in columns:
        columns.append(benchmark)
    closes = pd.DataFrame({s: loaded[s].frame["close"] for s in columns}).sort_index()
    labels = {s: f"{s} ({loaded[s].source})" for s in columns}
    st.plotly_chart(_figure(closes, labels), key="ex_chart")
    stats = analytics.statistics(closes, benchmark if bench_ok else None)
    stats.index.name = "symbol"
    if not bench_ok:
        st.info(plain(f"Benchmark {benchmark} has no bars: beta and correlation are not shown."))
    _table(
        f"Statistics ({start} to {end}, benchmark {benchmark})",
        stats,
        "ex_stats",
        ratios=("sharpe", "sortino", "beta", "correlation"),
    )
    left, right = st.columns(2)
    with left:
        periods = analytics.period_returns(pd.DataFrame({s: full[s] for s in columns}), today)
        periods.index.name = "symbol"
        _table("Returns by period", periods, "ex_periods")
    with right:
        st.subheader("Correlation of daily returns")
        corr = analytics.correlation(closes)
        st.plotly_chart(_heatmap(corr), key="ex_heatmap")
        _downloads("ex_correlation", corr, "ex_corr")
    with st.expander("Chart data (closes, rebased, drawdown, volatility)"):
        chart = pd.concat(
            {
                "close": closes,
                "rebased": analytics.rebased(closes),
                "drawdown": analytics.drawdown(closes),
                "volatility": analytics.rolling_volatility(closes, VOL_WINDOW),
            },
            axis=1,
        )
        chart.columns = [f"{sym} {what}" for what, sym in chart.columns]
        st.dataframe(chart, key="ex_chart_table")
        _downloads("ex_chart_data", chart, "ex_chartdata")


main()
