"""Portfolio: account metrics, positions table and allocation chart.

Values come from ``services.portfolio`` (ibkr_core/portfolio.py); this page only lays
them out. Everything lives in one fragment on a timer (``settings.refresh_interval``),
so the numbers follow the market while connected without rerunning the whole app.
"""

from __future__ import annotations

import logging

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ibkr_core.connection import ConnectionState
from pages.components import (
    fmt_money,
    fmt_pct,
    fmt_time,
    not_connected_hint,
    require_services,
)

log = logging.getLogger(__name__)
UP, DOWN, FLAT = "#26a69a", "#ef5350", "#9e9e9e"
CASH_COLOR = "#78909c"

services = require_services()


def _pct_of(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return 100.0 * part / whole


def _signed_delta(value: float | None, currency: str, suffix: str = "") -> str | None:
    if value is None:
        return None
    if value == 0:
        return f"{fmt_money(0.0, currency)}{suffix}"
    return f"{fmt_money(value, currency, signed=True)}{suffix}"


def metric_cards(s) -> None:
    cur = s.currency
    connected = s.connected
    help_text = None if connected else "Not connected: showing zeros."
    cost_basis = (
        s.positions_value - s.unrealized_pnl
        if s.positions_value is not None and s.unrealized_pnl is not None
        else None
    )
    previous_nlv = (
        s.net_liquidation - s.daily_pnl
        if s.net_liquidation is not None and s.daily_pnl is not None
        else None
    )
    cards = [
        (
            "Net liquidation",
            fmt_money(s.net_liquidation, cur),
            _signed_delta(s.daily_pnl, cur, " today") if connected else None,
        ),
        ("Cash", fmt_money(s.total_cash, cur), None),
        (
            "Positions value",
            fmt_money(s.positions_value, cur),
            f"{s.positions_count} position{'s' if s.positions_count != 1 else ''}"
            if connected
            else None,
        ),
        (
            "Daily P&L",
            fmt_money(s.daily_pnl, cur, signed=True),
            fmt_pct(_pct_of(s.daily_pnl, previous_nlv)) if connected and s.daily_pnl else None,
        ),
        (
            "Unrealized P&L",
            fmt_money(s.unrealized_pnl, cur, signed=True),
            fmt_pct(_pct_of(s.unrealized_pnl, cost_basis))
            if connected and s.unrealized_pnl
            else None,
        ),
        (
            "Realized P&L",
            fmt_money(s.realized_pnl, cur, signed=True),
            _signed_delta(s.realized_pnl, cur, " today") if connected and s.realized_pnl else None,
        ),
    ]
    for row in (cards[:3], cards[3:]):  # two rows of three: full amounts fit
        for col, (label, value, delta) in zip(st.columns(3), row, strict=True):
            kwargs = {}
            if label == "Positions value":
                kwargs = {"delta_color": "off", "delta_arrow": "off"}
            col.metric(label, value, delta, border=True, help=help_text, **kwargs)


def positions_frame(rows) -> pd.DataFrame:
    columns = [
        "account",
        "symbol",
        "quantity",
        "avg_cost",
        "market_price",
        "market_value",
        "unrealized_pnl",
        "unrealized_pnl_pct",
        "daily_pnl",
        "weight_pct",
    ]
    frame = pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows], columns=columns)
    return frame.astype({c: "float64" for c in columns[2:]})


def _pnl_style(value: float) -> str:
    if pd.isna(value) or value == 0:
        return ""
    return f"color: {UP if value > 0 else DOWN}"


def positions_table(frame: pd.DataFrame, currency: str) -> None:
    money = "dollar" if currency == "USD" else "%.2f"
    show = frame if frame["account"].nunique() > 1 else frame.drop(columns="account")
    pnl_columns = ["unrealized_pnl", "unrealized_pnl_pct", "daily_pnl"]
    styled = show.style.map(_pnl_style, subset=pnl_columns)
    st.dataframe(
        styled,
        hide_index=True,
        width="stretch",
        column_config={
            "account": st.column_config.TextColumn("Account"),
            "symbol": st.column_config.TextColumn("Symbol", pinned=True),
            "quantity": st.column_config.NumberColumn("Qty", format="localized"),
            "avg_cost": st.column_config.NumberColumn("Avg cost", format=money),
            "market_price": st.column_config.NumberColumn("Price", format=money),
            "market_value": st.column_config.NumberColumn("Value", format=money),
            "unrealized_pnl": st.column_config.NumberColumn("Unrealized P&L", format=money),
            "unrealized_pnl_pct": st.column_config.NumberColumn("P&L %", format="%+.2f%%"),
            "daily_pnl": st.column_config.NumberColumn("Today", format=money),
            "weight_pct": st.column_config.ProgressColumn(
                "Weight", format="%.1f%%", min_value=0.0, max_value=100.0, color="blue"
            ),
        },
    )


def allocation_chart(frame: pd.DataFrame, summary) -> None:
    labels, values, colors = [], [], []
    for _, row in frame.iterrows():
        value = row["market_value"]
        if pd.isna(value) or value == 0:
            continue
        labels.append(row["symbol"] if value > 0 else f"{row['symbol']} (short)")
        values.append(abs(value))
        colors.append(None)
    if summary.total_cash and summary.total_cash > 0:
        labels.append("Cash")
        values.append(summary.total_cash)
        colors.append(CASH_COLOR)
    if not values:
        st.caption("No positions or cash to chart.")
        return
    palette = ["#42a5f5", "#ab47bc", "#ffa726", "#26c6da", "#d4e157", "#ec407a", "#8d6e63"]
    marker_colors = [c or palette[i % len(palette)] for i, c in enumerate(colors)]
    fig = go.Figure(
        go.Pie(
            labels=labels,
            values=values,
            hole=0.55,
            sort=False,
            marker={"colors": marker_colors},
            textinfo="label+percent",
            hovertemplate="%{label}: %{value:,.2f} (%{percent})<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        showlegend=False,
        annotations=[
            {
                "text": f"{fmt_money(summary.net_liquidation, summary.currency)}<br>net liq.",
                "showarrow": False,
                "font": {"size": 14},
            }
        ],
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, key="allocation")


def pnl_chart(frame: pd.DataFrame, currency: str) -> None:
    data = frame.dropna(subset=["unrealized_pnl"]).sort_values("unrealized_pnl")
    if data.empty:
        st.caption("No P&L to chart yet.")
        return
    values = data["unrealized_pnl"]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=data["symbol"],
            orientation="h",
            marker={"color": [UP if v > 0 else DOWN if v < 0 else FLAT for v in values]},
            text=[fmt_money(v, currency, signed=True) for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:,.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": f"Unrealized P&L ({currency})", "zeroline": True},
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, key="pnl_by_position")


@st.fragment(run_every=services.settings.refresh_interval)
def live_portfolio() -> None:
    try:
        summary = services.portfolio.portfolio_summary()
        rows = services.portfolio.positions() if summary.connected else []
    except Exception as exc:  # a slow or dropped TWS: say so plainly, retry next refresh
        log.warning("portfolio refresh failed: %r", exc)
        st.warning(
            f"Account data did not arrive in time ({type(exc).__name__}: {exc}). "
            "Retrying automatically.",
            icon=":material/hourglass_empty:",
        )
        return
    if not summary.connected:
        if services.connection.status().state == ConnectionState.RECONNECTING:
            badge = ":orange-badge[:material/sync_problem: reconnecting]"
        else:
            badge = ":gray-badge[:material/link_off: not connected]"
        st.markdown(f"{badge} :gray[Zeros below: no account data without a connection.]")
        metric_cards(summary)
        not_connected_hint()
        return
    st.markdown(
        f":green-badge[:material/bolt: live] :gray[Account {', '.join(summary.accounts)} · "
        f"base currency {summary.currency} · as of {fmt_time(summary.as_of)}]"
    )
    if summary.currency == "MIXED":
        st.warning("The accounts have different base currencies: totals are not converted.")
    metric_cards(summary)
    frame = positions_frame(rows)
    st.subheader("Positions")
    if frame.empty:
        st.caption("No open positions.")
    else:
        positions_table(frame, summary.currency)
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Allocation")
        allocation_chart(frame, summary)
    with right:
        st.subheader("Unrealized P&L by position")
        pnl_chart(frame, summary.currency)


st.title("Portfolio")
if services.portfolio is None:
    st.warning("The portfolio service is not available in this build.")
else:
    live_portfolio()
__import__("pages.account_history").account_history.render_account_history(services)
