"""Market data: the watchlist, a live quotes table and a price chart.

A thin view: quotes, history and the watchlist come from ``ibkr_core`` through
``require_services()``; this file only lays them out. The quotes table lives in a
fragment on a timer, so only it reruns each refresh.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from pandas.io.formats.style import Styler
from plotly.subplots import make_subplots

from ibkr_core.data_state import ConnectionView, QuoteView, quote_view
from ibkr_core.history import RANGE_KEYS
from ibkr_core.quote import Quote, QuoteSource
from pages.components import fmt_age, plain, require_services, source_label, state_banner
from pages.live import live_quotes

PRICE_COLUMNS = ("last", "bid", "ask", "high", "low")
UP, DOWN = "#26a69a", "#ef5350"


# -- view helpers (formatting only; the values come from ibkr_core) -----------------------
def _duration(seconds: float) -> str:
    return fmt_age(seconds).removesuffix(" ago")


def problem_text(quote: Quote) -> str:
    """A row's error for a trader: 'Unknown symbol', or which sources failed and why
    (from the quote's structured problems; a source that is simply off is left out)."""
    if any(p.unknown_symbol for p in quote.problems):
        return "✖ Unknown symbol"
    reasons = [
        f"{source_label(p.source) if p.source in set(QuoteSource) else p.source}: {p.message}"
        + (f". {p.advice}" if p.advice else "")
        for p in quote.problems
        if not p.expected
    ]
    return "✖ No data — " + ("; ".join(reasons) if reasons else (quote.error or ""))


def row_status(quote: Quote, age: float | None, stale_after: float, view: QuoteView) -> str:
    if view.status_text:  # ibkr_core's own words: competing session, market closed, ...
        return view.status_text
    if not quote.ok:
        return problem_text(quote)
    if age is not None and age > stale_after:
        return f"⚠ Stale (older than {_duration(stale_after)})"
    return "✓ OK"


def quotes_frame(
    quotes: dict[str, Quote], stale_after: float, session: ConnectionView | None = None
) -> pd.DataFrame:
    now = datetime.now(UTC)
    rows = []
    for symbol, q in quotes.items():
        age = q.age_seconds(now)
        view = quote_view(q, now, session)
        rows.append(
            {
                "symbol": symbol,
                "last": q.price if q.ok else None,
                "bid": q.bid,
                "ask": q.ask,
                "change_pct": q.change_percent,
                "volume": q.volume,
                "high": q.high,
                "low": q.low,
                "source": view.source_text if q.ok or view.state else "—",
                "age": fmt_age(age) if q.ok else None,
                "status": row_status(q, age, stale_after, view),
            }
        )
    frame = pd.DataFrame(rows, columns=[*QUOTE_COLUMNS])
    numeric = [*PRICE_COLUMNS, "change_pct", "volume"]
    frame[numeric] = frame[numeric].astype("float64")  # None -> NaN, shown as "—"
    return frame


def price_format(frame: pd.DataFrame) -> str:
    """Two decimals for stocks; four for sub-$5 prices (FX, penny stocks)."""
    prices = frame[list(PRICE_COLUMNS)].stack()
    return "%.4f" if len(prices) and prices.min() < 5 else "%.2f"


def highlight_problems(row: pd.Series) -> list[str]:
    status = str(row["status"])
    if status.startswith("⚠"):
        style = "background-color: rgba(255, 193, 7, 0.18)"
    elif status.startswith("✖"):
        style = "background-color: rgba(239, 83, 80, 0.15)"
    else:
        style = ""
    return [style] * len(row)


QUOTE_COLUMNS = {
    "symbol": st.column_config.TextColumn("Symbol", pinned=True, width="small"),
    "last": None,  # price columns are filled in per table (decimals depend on the prices)
    "bid": None,
    "ask": None,
    "change_pct": st.column_config.NumberColumn("Change %", format="%+.2f%%"),
    "volume": st.column_config.NumberColumn("Volume", format="compact"),
    "high": None,
    "low": None,
    "source": st.column_config.TextColumn(
        "Source",
        width="medium",
        help="Where the quote came from: IBKR live / delayed / frozen (market closed, with "
        "the last trade's time) / not updating, or a fallback",
    ),
    "age": st.column_config.TextColumn(
        "Age", help="Time since the quote's own timestamp (IBKR: the last trade)"
    ),
    "status": st.column_config.TextColumn("Status", width="large"),
}
PRICE_TITLES = {"last": "Last", "bid": "Bid", "ask": "Ask", "high": "High", "low": "Low"}


def provider_summary(services) -> str:
    parts = []
    for p in services.quotes.provider_status():
        name = "IBKR" if p.name == QuoteSource.IBKR_LIVE else source_label(p.name)
        if p.name == QuoteSource.IBKR_LIVE:
            text = "connected" if p.available else "not connected"
        elif p.available and not p.used:
            text = "standby"
        elif p.available and p.last_priced is not None:
            text = "ok"
        elif p.available:
            text = "answering without prices (offline?)"
        elif p.backing_off_until is not None:
            wait = (p.backing_off_until - datetime.now(UTC)).total_seconds()
            text = f"backing off {max(0, wait):.0f}s ({plain(p.last_error)})"
        elif p.last_error and "not configured" in p.last_error:
            text = "off (no API key)"
        else:
            text = f"off: {plain(p.last_error)}"
        idle = text.startswith("off (no") or text in ("not connected", "standby")  # not faults
        color = "gray" if idle else ("green" if text in ("ok", "connected") else "orange")
        parts.append(f":{color}[●] {name}: {text}")
    return " · ".join(parts)


# -- watchlist actions (callbacks run before the page redraws) -----------------------------
def add_symbol() -> None:
    raw = st.session_state.get("md_new_symbol", "")
    try:
        result = services.watchlist.add(raw)
    except ValueError as exc:  # WatchlistError (a ValueError; survives module reloads)
        st.session_state.md_add_message = ("error", str(exc))
        return
    st.session_state.md_add_message = ("success" if result.verified else "info", result.message)
    st.session_state.md_new_symbol = ""


def remove_symbol() -> None:
    symbol = st.session_state.get("md_remove_symbol")
    if symbol and services.watchlist.remove(symbol):
        st.session_state.md_add_message = ("info", f"Removed {symbol}.")  # shown via plain


# -- page ------------------------------------------------------------------------------------
services = require_services()
settings = services.settings

st.title("Market data")
state_banner(services)
if services.watchlist.problem:  # e.g. a hand-edited file that was not valid JSON
    st.warning(plain(services.watchlist.problem), icon=":material/warning:")

add_col, remove_col = st.columns(2, vertical_alignment="top")
with add_col, st.form("md_add_form", border=False, enter_to_submit=True):
    new_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    new_col.text_input("Add a symbol", key="md_new_symbol", placeholder="e.g. AAPL, SPY, BRK.B")
    button_col.form_submit_button(
        "Add", key="md_add", on_click=add_symbol, use_container_width=True
    )
    message = st.session_state.get("md_add_message")
    if message:
        kind, text = message
        {"error": st.error, "success": st.success, "info": st.info}[kind](plain(text))
with remove_col:
    pick_col, go_col = st.columns([3, 1], vertical_alignment="bottom")
    pick_col.selectbox(
        "Remove a symbol", services.watchlist.symbols(), key="md_remove_symbol", index=None
    )
    go_col.button("Remove", key="md_remove", on_click=remove_symbol, use_container_width=True)


@st.fragment(run_every=settings.refresh_interval)
def quotes_table() -> None:
    symbols = services.watchlist.symbols()
    if not symbols:
        st.info("The watchlist is empty: add a symbol above.")
        return
    # Wait about one refresh at most: a slow fallback fills the cache for the next one.
    quotes = services.quotes.get_quotes(symbols, max_wait=max(1.0, settings.refresh_interval))
    frame = quotes_frame(quotes, settings.stale_after, services.connection.status().view)
    fmt = price_format(frame)
    config = dict(QUOTE_COLUMNS)
    for column, title in PRICE_TITLES.items():
        config[column] = st.column_config.NumberColumn(title, format=fmt)
    flagged = ~frame["status"].str.startswith("✓")
    # The Styler only when a row needs its colour: it costs ~7 ms per refresh.
    data: pd.DataFrame | Styler = frame
    if flagged.any():
        # A Styler's own display text wins over column_config formats: format it too.
        data = (
            frame.style.apply(highlight_problems, axis=1)
            .format(lambda v: fmt % v, subset=list(PRICE_COLUMNS), na_rep="—")
            .format("{:+.2f}%", subset=["change_pct"], na_rep="—")
        )
    st.dataframe(
        data,
        column_config=config,
        hide_index=True,
        placeholder="—",
        key="md_quotes",
    )
    st.caption(
        f"{provider_summary(services)} — refreshes every {settings.refresh_interval:g}s; "
        f"rows older than {_duration(settings.stale_after)} are marked stale."
    )


st.subheader("Quotes")
if not live_quotes(services, services.watchlist.symbols()):  # pushed, else the fragment
    quotes_table()


# -- chart -----------------------------------------------------------------------------------
def chart_index(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Exchange time (US/Eastern, tz-naive) for intraday bars; plain dates for daily bars
    (IBKR stamps a daily bar at 00:00 UTC: converting it would move it to the day before)."""
    if index.tz is None:
        return index
    utc = index.tz_convert("UTC")
    if len(utc) and ((utc.hour == 0) & (utc.minute == 0)).all():
        return utc.tz_localize(None)
    return index.tz_convert("America/New_York").tz_localize(None)


def candle_figure(bars: pd.DataFrame, title: str) -> go.Figure:
    index = chart_index(pd.DatetimeIndex(bars.index))
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.03
    )
    fig.add_trace(
        go.Candlestick(
            x=index,
            open=bars["open"],
            high=bars["high"],
            low=bars["low"],
            close=bars["close"],
            name="Price",
            increasing_line_color=UP,
            decreasing_line_color=DOWN,
        ),
        row=1,
        col=1,
    )
    colors = [UP if c >= o else DOWN for o, c in zip(bars["open"], bars["close"], strict=True)]
    fig.add_trace(
        go.Bar(x=index, y=bars["volume"], name="Volume", marker_color=colors), row=2, col=1
    )
    breaks: list[dict] = [{"bounds": ["sat", "mon"]}]
    minutes = index.hour * 60 + index.minute
    intraday = len(index) > 1 and (index[1:] - index[:-1]).min() < pd.Timedelta(days=1)
    if intraday and ((minutes >= 570) & (minutes < 960)).all():  # regular hours only
        breaks.append({"bounds": [16, 9.5], "pattern": "hour"})
    fig.update_xaxes(rangebreaks=breaks)
    fig.update_layout(
        title=title,
        height=520,
        showlegend=False,
        xaxis_rangeslider_visible=False,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    fig.update_yaxes(title_text="Price", row=1, col=1)
    fig.update_yaxes(title_text="Volume", row=2, col=1)
    return fig


st.subheader("Chart")
symbols = services.watchlist.symbols()
if symbols:
    pick, span = st.columns([1, 2], vertical_alignment="bottom")
    symbol = pick.selectbox("Symbol", symbols, key="md_chart_symbol")
    range_key = span.segmented_control(
        "Range", RANGE_KEYS, default="1M", required=True, key="md_chart_range"
    )
    try:
        with st.spinner(f"Loading {plain(symbol)} {range_key}…"):
            bars, source = services.history.bars(symbol, range_key)
    except Exception as exc:  # provider down / rate-limited: say so, keep the page
        st.warning(plain(f"No price history for {symbol} right now: {exc}"))
    else:
        label = "IBKR" if source == QuoteSource.IBKR_LIVE else source_label(source)
        if bars.empty:
            st.info(plain(f"No price history for {symbol} ({range_key}) from {label}."))
        else:
            title = f"{symbol} · {range_key} · source: {label}"
            st.plotly_chart(candle_figure(bars, title), key="md_chart")
            st.caption(f"Bars from {label}; times in US/Eastern.")
else:
    st.info("Add a symbol to the watchlist to chart it.")
