"""The account over time (a section of the Portfolio page, not a page of its own).

Equity curve from the recorded snapshots, daily P&L bars, time-weighted return per period
(deposits and withdrawals taken out, see ``analytics.account_history``) and the stored
fills, page by page and exportable. Everything is read from ``services.store``.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ibkr_core import analytics
from ibkr_core.recorder import REPLAY_NOTE
from pages.components import fmt_money, fmt_pct

UP, DOWN = "#26a69a", "#ef5350"
FILLS_PER_PAGE = 25
FILL_COLUMNS = {
    "ts": "time (UTC)",
    "account": "account",
    "symbol": "symbol",
    "side": "side",
    "shares": "shares",
    "price": "price",
    "currency": "currency",
    "commission": "commission",
    "commission_currency": "commission currency",
    "realized_pnl": "realized P&L",
    "exchange": "exchange",
    "exec_id": "execution id",
}


def plain(text: str) -> str:
    """Text for st.warning / st.caption / st.info, never read as markdown or HTML."""
    for ch in "\\`*_{}[]()#+-.!|<>~$":
        text = text.replace(ch, "\\" + ch)
    return text


def _equity_figure(snaps: pd.DataFrame, currency: str) -> go.Figure:
    fig = go.Figure()
    for kind, name, dash in (
        ("replay", "Replayed (demo: today's holdings at past closes)", "dot"),
        (None, "Recorded", "solid"),
    ):
        part = snaps[snaps["kind"] == "replay"] if kind else snaps[snaps["kind"] != "replay"]
        if not part.empty:
            fig.add_trace(
                go.Scatter(
                    x=part["ts"],
                    y=part["net_liquidation"],
                    name=name,
                    mode="lines",
                    line={"dash": dash, "width": 1.8},
                )
            )
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title=f"Net liquidation ({currency})",
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


def _pnl_figure(daily: pd.DataFrame, currency: str) -> go.Figure:
    pnl = daily["pnl"].dropna()
    fig = go.Figure(
        go.Bar(x=pnl.index, y=pnl, marker_color=[UP if v >= 0 else DOWN for v in pnl], name="P&L")
    )
    fig.update_layout(
        height=240,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title=f"Daily P&L ({currency})",
    )
    return fig


def _twr_rows(history: analytics.AccountHistory, today: date) -> pd.DataFrame:
    periods = {
        "MTD": date(today.year, today.month, 1),
        "YTD": date(today.year, 1, 1),
        "1Y": today - timedelta(days=365),
        "All": None,
    }
    return pd.DataFrame(
        {"time-weighted return": [history.twr(start) for start in periods.values()]},
        index=pd.Index(list(periods), name="period"),
    )


def _fills(store, account: str) -> None:
    total = store.fill_count(account)
    st.markdown(f"**Fills** · {total} stored")
    if not total:
        st.caption("No fills recorded yet: they are stored as they arrive, and kept.")
        return
    pages = max(1, -(-total // FILLS_PER_PAGE))
    page = st.number_input("Page", 1, pages, 1, key="ah_fills_page", help=f"{pages} pages")
    frame = store.fills(account, FILLS_PER_PAGE, (int(page) - 1) * FILLS_PER_PAGE)
    shown = frame[list(FILL_COLUMNS)].rename(columns=FILL_COLUMNS)
    st.dataframe(shown, hide_index=True, key="ah_fills_table")
    everything = store.fills(account)[list(FILL_COLUMNS)].rename(columns=FILL_COLUMNS)
    st.download_button(
        f"Download all {total} fills (CSV)",
        everything.to_csv(index=False).encode(),
        f"fills-{account}.csv",
        "text/csv",
        key="ah_fills_csv",
        icon=":material/download:",
    )


def render_account_history(services) -> None:
    """The "Account over time" section (call at the end of the Portfolio page)."""
    st.subheader("Account over time")
    store = services.store
    if not store.available:
        st.info(plain(f"History is off: {store.status.message}"), icon=":material/database:")
        return
    if store.status.message:
        st.warning(plain(store.status.message), icon=":material/database:")
    accounts = store.accounts()
    if not accounts:
        st.caption(
            "Nothing recorded yet: while connected, the account is recorded once a minute "
            "and at every fill."
        )
        return
    account = (
        accounts[0] if len(accounts) == 1 else st.selectbox("Account", accounts, key="ah_account")
    )
    snaps = store.snapshots(account)
    currency = str(snaps["currency"].dropna().iloc[-1]) if snaps["currency"].notna().any() else "?"
    history = analytics.account_history(snaps, store.fills(account), currency)
    latest = snaps.iloc[-1]
    first_day = snaps["ts"].iloc[0].date()
    st.caption(
        plain(
            f"Account {account} · {len(snaps)} snapshot{'' if len(snaps) == 1 else 's'} "
            f"since {first_day} · "
            f"last {fmt_money(latest['net_liquidation'], currency)} net liquidation"
        )
    )
    if (snaps["kind"] == "replay").any():
        held = [h for h in (store.meta(f"{REPLAY_NOTE}{account}") or "").split(", ") if h]
        st.caption(
            plain(
                "Before the first recorded snapshot, the demo's curve is replayed from "
                "simulated bars: today's holdings, each moved back by its own daily closes "
                "(futures by their P&L), cash at today's rates"
                + (
                    f"; {len(held)} holding(s) held at today's value (no bars of their own): "
                    f"{', '.join(held)}."
                    if held
                    else "."
                )
            )
        )
    st.plotly_chart(_equity_figure(snaps, currency), key="ah_equity")
    left, right = st.columns([2, 1])
    with left:
        st.plotly_chart(_pnl_figure(history.daily, currency), key="ah_pnl")
    with right:
        twr = _twr_rows(history, services.history.today())
        st.dataframe(
            twr,
            column_config={"time-weighted return": st.column_config.NumberColumn(format="percent")},
            key="ah_twr",
        )
        flows = history.daily["flow"]
        flows = flows[flows != 0]
        if not history.adjusted:
            st.caption(plain(f"Not adjusted for deposits: {history.note}"))
        elif len(flows):
            st.caption(
                plain(
                    f"Adjusted for {len(flows)} deposit/withdrawal day(s) (cash changes not "
                    f"explained by fills), net {fmt_money(float(flows.sum()), currency)}."
                )
            )
        else:
            st.caption("No deposits or withdrawals detected (cash moved only with fills).")
        last = history.daily["pnl"].dropna()
        if len(last):
            pct = history.daily["twr_return"].dropna()
            st.caption(
                plain(
                    f"Last day {fmt_money(float(last.iloc[-1]), currency, signed=True)} "
                    f"({fmt_pct(100 * float(pct.iloc[-1]) if len(pct) else None)})"
                )
            )
    _fills(store, account)
