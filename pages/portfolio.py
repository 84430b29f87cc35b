"""Portfolio: account metrics, positions, cash per currency and allocation.

Values come from ``services.portfolio`` (ibkr_core/portfolio.py, arithmetic in
ibkr_core/holdings.py); this page only lays them out. Each row's money is shown in the
instrument's currency; totals, weights and the allocation in the account's base
currency. While the live stream is up (``pages/live.py``) the cards and positions are
pushed and patched in place; else everything lives in one fragment on a timer
(``settings.refresh_interval``).
"""

from __future__ import annotations

import logging

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ibkr_core import figures
from ibkr_core.connection import ConnectionState
from ibkr_core.figures import KINDS
from ibkr_core.holdings import by_asset_class
from pages import live as push
from pages.account_history import render_account_history
from pages.components import (
    DASH,
    account_picker,
    fmt_money,
    fmt_number,
    fmt_time,
    not_connected_hint,
    plain,
    require_services,
    state_banner,
)

log = logging.getLogger(__name__)
UP, DOWN, FLAT = "#26a69a", "#ef5350", "#9e9e9e"
CASH_COLOR = "#78909c"
PALETTE = ["#42a5f5", "#ab47bc", "#ffa726", "#26c6da", "#d4e157", "#ec407a", "#8d6e63"]

services = require_services()

# money in the instrument's currency / in the account's base currency
LOCAL_MONEY = ["avg_price", "market_price", "market_value", "unrealized_pnl", "daily_pnl"]
BASE_MONEY = ["market_value_base", "unrealized_pnl_base", "notional_base"]
COLUMNS = [
    "account",
    "con_id",
    "sec_type",
    "description",
    "asset_class",
    "exchange",
    "currency",
    "quantity",
    "multiplier",
    *LOCAL_MONEY[:3],
    "notional",
    "market_value_base",
    "notional_base",
    "weight_pct",
    "unrealized_pnl",
    "unrealized_pnl_pct",
    "daily_pnl",
    "unrealized_pnl_base",
]  # value, then in base and its weight; then P&L
NUMERIC = [
    "quantity",
    *LOCAL_MONEY,
    "notional",
    "unrealized_pnl_pct",
    *BASE_MONEY,
    "weight_pct",
]


TABLE_TITLES = {
    kind: f"**{title}** :gray[· {note}]" if title else ""
    for kind, (title, note) in figures.KIND_TITLES.items()
}


def metric_cards(s, rows=()) -> None:
    help_text = None if s.connected else "Not connected: showing zeros."
    cards = figures.metric_cards(s, rows)
    for row in (cards[:3], cards[3:]):  # two rows of three: full amounts fit
        for col, card in zip(st.columns(3), row, strict=True):
            kwargs = {}
            if card.delta_color == "off":
                kwargs = {"delta_color": "off", "delta_arrow": "off"}
            col.metric(card.label, card.value, card.delta, border=True, help=help_text, **kwargs)


# cents for money, IBKR's precision for prices per unit, hundredths for percentages: the
# grid's accessible table (screen readers, tests) reads these numbers as they are
ROUNDING = {
    **{c: 2 for c in ("market_value", "notional", "unrealized_pnl", "daily_pnl")},
    **{c: 2 for c in BASE_MONEY},
    **{c: 6 for c in ("avg_price", "market_price")},
    "unrealized_pnl_pct": 2,
    "weight_pct": 2,
}


def positions_frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame([{c: getattr(r, c) for c in COLUMNS} for r in rows], columns=COLUMNS)
    return frame.astype({c: "float64" for c in NUMERIC}).round(ROUNDING)


def _pnl_style(value: float) -> str:
    if pd.isna(value) or value == 0:
        return ""
    return f"color: {UP if value > 0 else DOWN}"


def _money_formatter(currency: str):
    def fmt(value: float) -> str:
        return DASH if pd.isna(value) else fmt_money(value, currency)

    return fmt


def _unit_formatter(currency: str, sec_type: str):
    """Prices per unit as ibkr_core writes them (bonds % of par, FX rates, money)."""

    def fmt(value: float) -> str:
        return DASH if pd.isna(value) else figures.unit_price_text(value, currency, sec_type)

    return fmt


def _blank_or(fmt_value):
    def fmt(value: float) -> str:
        return "" if pd.isna(value) else fmt_value(value)

    return fmt


# per table: the columns that do not apply (so no cell reads "None" by design)
# (the exchange reads in the instrument's name where it tells stocks apart: SAP · IBIS)
NOT_SHOWN = {
    "held": ["notional", "notional_base", "exchange"],
    "futures": ["market_value", "market_value_base", "weight_pct"],
    "fx": ["notional", "notional_base", "weight_pct", "multiplier", "exchange"],
}


def positions_table(frame: pd.DataFrame, base: str, kind: str, accounts: int = 1) -> None:
    """Numbers stay numbers (the table sorts by value); each cell shows its currency.
    ``kind``: "held" (securities), "futures" (P&L and exposure), "fx" (cash as positions);
    ``accounts``: how many the page shows (several: every table names each row's)."""
    show = frame.drop(columns=["con_id", *NOT_SHOWN[kind]])
    if accounts <= 1:
        show = show.drop(columns="account")
    if (show["currency"] == base).all():  # base columns would repeat the same numbers
        show = show.drop(columns=[c for c in BASE_MONEY if c in show])
    if "multiplier" in show and show["multiplier"].isna().all():
        show = show.drop(columns="multiplier")
    show = show.reset_index(drop=True)
    if "multiplier" in show:  # text: blank where the contract has none (a stock)
        show["multiplier"] = [_blank_or(lambda v: f"{v:g}")(v) for v in show["multiplier"]]
    groups = show.groupby(["currency", "sec_type"]).groups.items()
    show = show.drop(columns="sec_type")
    styled = show.style.map(
        _pnl_style, subset=["unrealized_pnl", "unrealized_pnl_pct", "daily_pnl"]
    )
    money = [c for c in ("market_value", "notional", "unrealized_pnl", "daily_pnl") if c in show]
    units = ["avg_price", "market_price"]
    for (currency, sec_type), index in groups:
        rows = list(index)
        styled = styled.format(_money_formatter(str(currency)), subset=(rows, money))
        unit_fmt = _unit_formatter(str(currency), str(sec_type))
        styled = styled.format(unit_fmt, subset=(rows, units))
    styled = styled.format(_money_formatter(base), subset=[c for c in BASE_MONEY if c in show])
    styled = styled.format(lambda v: DASH if pd.isna(v) else f"{v:+.2f}%", "unrealized_pnl_pct")
    styled = styled.format(lambda v: fmt_number(v, digits=8).rstrip("0").rstrip("."), "quantity")
    st.dataframe(
        styled,
        hide_index=True,
        width="stretch",
        height=min(36 * (len(show) + 1) + 3, 800),  # every row visible up to ~20
        key=f"positions_{kind}",
        column_config={
            "account": st.column_config.TextColumn("Account"),
            "description": st.column_config.TextColumn("Instrument", pinned=True),
            "asset_class": st.column_config.TextColumn("Type"),
            "exchange": st.column_config.TextColumn("Exchange"),
            "currency": st.column_config.TextColumn("Ccy"),
            "quantity": st.column_config.NumberColumn("Qty"),
            "multiplier": st.column_config.TextColumn("Mult."),
            "avg_price": st.column_config.NumberColumn(
                "Avg price", help="IBKR's average cost per unit (per share; bonds: % of par)"
            ),
            "market_price": st.column_config.NumberColumn(
                "Price", help="Per unit (per share; bonds: % of par; FX: the rate)"
            ),
            "market_value": st.column_config.NumberColumn(
                "Value", help="IBKR's market value, in the instrument's currency"
            ),
            "notional": st.column_config.NumberColumn(
                "Exposure", help="Notional value. Only a future's P&L counts in the account."
            ),
            "notional_base": st.column_config.NumberColumn(f"Exposure ({base})"),
            "unrealized_pnl": st.column_config.NumberColumn("Unrealized P&L"),
            "unrealized_pnl_pct": st.column_config.NumberColumn("P&L %"),
            "daily_pnl": st.column_config.NumberColumn("Today"),
            "market_value_base": st.column_config.NumberColumn(
                f"Value ({base})", help="Converted with the account's own IBKR exchange rates"
            ),
            "unrealized_pnl_base": st.column_config.NumberColumn(f"P&L ({base})"),
            "weight_pct": st.column_config.ProgressColumn(
                "Weight",
                format="%.1f%%",
                min_value=0.0,
                max_value=100.0,
                color="blue",
                help="Value in base / net liquidation (futures and FX cash not counted)",
            ),
        },
    )


def class_table(rows, summary) -> None:
    base = summary.currency
    totals = by_asset_class(rows, summary.net_liquidation)
    if len(totals) < 2:
        return
    frame = pd.DataFrame(
        [
            {
                "Asset class": t.asset_class,
                "Positions": t.positions,
                f"Value ({base})": fmt_money(t.value_base, base)
                if t.exposure_base is None
                else f"exposure {fmt_money(t.exposure_base, base)}",
                f"Unrealized P&L ({base})": fmt_money(t.unrealized_pnl_base, base, signed=True),
                "Weight": DASH if t.weight_pct is None else f"{t.weight_pct:.1f}%",
            }
            for t in totals
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch", key="by_asset_class")


def cash_table(summary) -> None:
    if not summary.cash:
        st.caption("No cash balances reported yet.")
        return
    base = summary.currency
    cells = [figures.cash_cells(line, base) for line in summary.cash]
    frame = pd.DataFrame(
        [
            {"Currency": c["currency"], "Balance": c["balance"], "IBKR rate": c["rate"],
             f"In {base}": c["in_base"]}
            for c in cells
        ]
    )  # fmt: skip
    st.dataframe(frame, hide_index=True, width="stretch")
    st.caption(figures.cash_total_text(summary))


def _labels(frame: pd.DataFrame) -> list[str]:
    """One label per contract (conId) and account: two contracts never share a slice or
    bar, even when they read alike (the account, then the conId, tells them apart)."""
    names = frame["description"].tolist()
    keys = list(zip(frame["account"], frame["con_id"], strict=True))
    labels = []
    for name, (account, con_id) in zip(names, keys, strict=True):
        same = {k for n, k in zip(names, keys, strict=True) if n == name}
        if len(same) > 1:
            accounts = {a for a, _ in same}
            name = f"{name} · {account}" if len(accounts) == len(same) else f"{name} · {con_id}"
        labels.append(name)
    return labels


def allocation_chart(frame: pd.DataFrame, summary) -> None:
    labels, values, colors = [], [], []
    data = frame.assign(label=_labels(frame)) if not frame.empty else frame
    for _, row in data.iterrows():
        value = row["market_value_base"]
        if pd.isna(value) or value == 0 or pd.isna(row["weight_pct"]):
            continue  # unknown, futures (P&L only) and FX (shown as cash)
        labels.append(row["label"] if value > 0 else f"{row['label']} (short)")
        values.append(abs(value))
        colors.append(None)
    for line in summary.cash:
        if line.base_value and line.base_value > 0:
            labels.append(f"Cash {line.currency}")
            values.append(line.base_value)
            colors.append(CASH_COLOR)
    if not values:
        st.caption("No positions or cash to chart.")
        return
    marker_colors = [c or PALETTE[i % len(PALETTE)] for i, c in enumerate(colors)]
    fig = go.Figure(
        go.Pie(
            labels=labels,
            values=values,
            hole=0.55,
            sort=False,
            marker={"colors": marker_colors},
            textinfo="percent",
            textposition="inside",
            hovertemplate=f"%{{label}}: %{{value:,.2f}} {summary.currency} (%{{percent}})"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        showlegend=True,
        legend={"font": {"size": 11}},
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
    data = frame.assign(label=_labels(frame)) if not frame.empty else frame
    data = data.dropna(subset=["unrealized_pnl_base"]).sort_values("unrealized_pnl_base")
    if data.empty:
        st.caption("No P&L to chart yet.")
        return
    values = data["unrealized_pnl_base"]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=data["label"],
            orientation="h",
            marker={"color": [UP if v > 0 else DOWN if v < 0 else FLAT for v in values]},
            text=[fmt_money(v, currency, signed=True) for v in values],
            # gains outside their bar, losses inside theirs (outside would sit on the labels)
            textposition=["outside" if v >= 0 else "inside" for v in values],
            cliponaxis=False,
            hovertemplate="%{y}: %{x:,.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(300, 28 * len(data) + 60),
        margin={"l": 10, "r": 80, "t": 10, "b": 10},
        xaxis={"title": f"Unrealized P&L ({currency})", "zeroline": True},
    )
    st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, key="pnl_by_position")


def asset_class_filter(frame: pd.DataFrame) -> pd.DataFrame:
    classes = sorted(frame["asset_class"].dropna().unique())
    if len(classes) < 2:
        return frame
    chosen = st.pills(
        "Asset class", classes, selection_mode="multi", default=classes, key="asset_classes"
    )
    return frame[frame["asset_class"].isin(chosen or classes)]


def _header(summary, as_of: bool = True) -> None:
    status = services.connection.status()
    if status.degraded:
        badge = ":orange-badge[:material/warning: degraded: TWS lost its link to IBKR]"
    else:
        badge = ":green-badge[:material/bolt: live]"
    accounts = plain(", ".join(summary.accounts))
    # "?": TWS has not sent the account's values yet (its base currency comes with them)
    base = "not known yet" if summary.currency == "?" else summary.currency
    when = f"as of {fmt_time(summary.as_of)}" if as_of else "figures move as IBKR sends them"
    st.markdown(f"{badge} :gray[Account {accounts} · base currency {base} · {when}]")


def portfolio_body(account: str | None, pushed: bool = False) -> None:
    """The page's figures; ``pushed``: the cards and positions come from the live stream
    (patched in place), the rest is drawn by this run."""
    try:
        view = services.portfolio.view(account)
    except Exception as exc:  # a slow or dropped TWS: say so plainly, retry next refresh
        log.warning("portfolio refresh failed: %r", exc)
        st.warning(
            f"Account data did not arrive in time ({type(exc).__name__}: {plain(exc)}). "
            "Retrying automatically.",
            icon=":material/hourglass_empty:",
        )
        return
    summary = view.summary
    if not summary.connected:
        if services.connection.status().state == ConnectionState.RECONNECTING:
            badge = ":orange-badge[:material/sync_problem: reconnecting]"
        else:
            badge = ":gray-badge[:material/link_off: not connected]"
        st.markdown(f"{badge} :gray[Zeros below: no account data without a connection.]")
        metric_cards(summary)
        not_connected_hint()
        return
    _header(summary, as_of=not pushed)  # (pushed: the figures move as IBKR sends them)
    if summary.currency == "MIXED":
        st.warning(
            "These accounts have different base currencies and IBKR sent no rate between "
            "them: pick one account in the sidebar."
        )
    if summary.unconverted:
        st.warning(
            "No IBKR exchange rate yet for "
            f"{', '.join(summary.unconverted)}: figures that need one show as —."
        )
    if pushed:
        push.live_portfolio(services, account, "cards")
    else:
        metric_cards(summary, view.rows)
    if summary.futures_exposure is not None:
        st.caption(
            "Futures count by their P&L; their notional exposure is "
            f"{fmt_money(summary.futures_exposure, summary.currency)} (not in positions value). "
            "Net liquidation follows their P&L live; Cash takes it in with TWS's account "
            "updates, so cash + positions can differ from net liquidation by the futures' "
            "move since the last one."
        )
    frame = positions_frame(view.rows)
    st.subheader("Positions")
    if frame.empty and not pushed:  # (pushed: the live component says so itself)
        st.caption("No open positions.")
    elif pushed:
        shown = asset_class_filter(frame)
        every = len(shown) == len(frame)
        classes = None if every else sorted(shown["asset_class"].dropna().unique())
        push.live_portfolio(services, account, "positions", classes)
        if not frame.empty:
            with st.expander("By asset class", expanded=False):
                class_table(view.rows, summary)
    else:
        shown = asset_class_filter(frame)
        kinds = shown["sec_type"].map(lambda t: KINDS.get(t, "held"))
        for kind, title in TABLE_TITLES.items():
            part = shown[kinds == kind]
            if part.empty:
                continue
            if title:
                st.markdown(title)
            positions_table(part, summary.currency, kind, frame["account"].nunique())
        with st.expander("By asset class", expanded=False):
            class_table(view.rows, summary)
    st.subheader("Cash by currency")
    if pushed:
        push.live_portfolio(services, account, "cash")
    else:
        cash_table(summary)
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Allocation")
        allocation_chart(frame, summary)
    with right:
        st.subheader("Unrealized P&L by position")
        pnl_chart(frame, summary.currency)
    if pushed:  # the figures above move in place; the charts are this run's picture
        note, redraw = st.columns([4, 1], vertical_alignment="center")
        note.caption(f"Charts as of {fmt_time(summary.as_of)}.")
        redraw.button("Redraw charts", key="portfolio_redraw", width="stretch")


live_portfolio = st.fragment(run_every=services.settings.refresh_interval)(portfolio_body)

st.title("Portfolio")
state_banner(services)
chosen_account = account_picker(services)
if push.is_live():  # no timer: the stream patches cards and positions in place
    portfolio_body(chosen_account, pushed=True)
else:
    live_portfolio(chosen_account)
render_account_history(services)
