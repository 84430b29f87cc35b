"""AppTest: the Portfolio page, disconnected and connected to a simulated gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ibkr_core.services import Services
from ibkr_core.simulator import SimConfig
from tests.app_support import app_services, run_app

pytestmark = pytest.mark.timeout(60)

METRICS = (
    "Net liquidation",
    "Cash",
    "Positions value",
    "Daily P&L",
    "Unrealized P&L",
    "Realized P&L",
)


@pytest.fixture
def gateway_config():
    """A closed market: prices stand still, so page and simulator agree to the cent."""
    return SimConfig(market_open=False)


@pytest.fixture
def services(tmp_path) -> Iterator[Services]:
    with app_services(tmp_path) as svc:
        yield svc


def money(text: str) -> float:
    """'$312,382.10' / '+$1.00' / '-$3.50' -> float."""
    sign = -1.0 if text.startswith("-") else 1.0
    return sign * float(text.lstrip("+-").lstrip("$").replace(",", ""))


def cash_frame(at: AppTest) -> pd.DataFrame:
    """The "Cash by currency" table (the page has other tables after it)."""
    return next(d.value for d in at.dataframe if "IBKR rate" in d.value.columns)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def sim_value(gateway, tag: str) -> float:
    gw = gateway.gateway
    return gateway.call(lambda: gw.account.value(gw.market, tag))


def test_disconnected_shows_zeros_labelled_and_a_hint(services):
    at = run_app()
    assert at.title[0].value == "Portfolio"
    shown = metrics(at)
    assert tuple(shown) == METRICS
    assert all(money(v) == 0.0 for v in shown.values()), shown
    assert all(m.help == "Not connected: showing zeros." for m in at.metric)
    assert any("not connected" in m.value for m in at.main.markdown)  # the badge
    hints = [i.value for i in at.info]
    assert len(hints) == 1 and "Demo (built-in simulated gateway)" in hints[0]
    assert "Connect" in hints[0]
    assert not at.dataframe  # no positions table without a connection


def test_connected_metrics_and_positions_match_the_simulator(services, gateway):
    status = services.connect(gateway.host, gateway.port)
    assert status.connected, status.last_error
    at = run_app()
    shown = metrics(at)
    assert money(shown["Net liquidation"]) == pytest.approx(
        sim_value(gateway, "NetLiquidation"), abs=0.01
    )
    assert money(shown["Cash"]) == pytest.approx(sim_value(gateway, "TotalCashValue"), abs=0.01)
    assert money(shown["Positions value"]) == pytest.approx(
        sim_value(gateway, "StockMarketValue"), abs=0.01
    )
    assert money(shown["Unrealized P&L"]) == pytest.approx(
        sim_value(gateway, "UnrealizedPnL"), abs=0.01
    )
    assert not any("not connected" in m.value for m in at.main.markdown)
    assert not at.info
    assert any(gateway.account_id in m.value and "live" in m.value for m in at.main.markdown)

    table = at.dataframe[0].value
    gw = gateway.gateway
    expected = gateway.call(
        lambda: {i.symbol: qty for i, qty, _avg in gw.account.positions() if qty}
    )
    symbols = [d.split(" · ")[0] for d in table["description"]]
    assert dict(zip(symbols, table["quantity"], strict=True)) == expected
    assert list(table.columns) == [
        "description",
        "asset_class",
        "currency",
        "quantity",
        "avg_price",
        "market_price",
        "market_value",
        "weight_pct",
        "unrealized_pnl",
        "unrealized_pnl_pct",
        "daily_pnl",
    ]  # all in the base currency, no multipliers: no columns repeating the same numbers
    assert set(table["currency"]) == {"USD"} and set(table["asset_class"]) == {"Stocks"}
    assert table["market_value"].sum() == pytest.approx(money(shown["Positions value"]), abs=0.01)
    cash = cash_frame(at)
    assert list(cash["Currency"]) == ["USD"]
    assert money(cash["In USD"][0]) == pytest.approx(money(shown["Cash"]), abs=0.01)
    charts = [c.key for c in at.get("plotly_chart") if not c.key.startswith("ah_")]
    assert len(charts) == 2  # allocation, P&L by position (ah_*: the account over time)


def test_disconnecting_returns_to_zeros(services, gateway):
    services.connect(gateway.host, gateway.port)
    at = run_app()
    assert money(metrics(at)["Net liquidation"]) > 0
    at.sidebar.button(key="conn_disconnect").click().run()
    assert all(money(v) == 0.0 for v in metrics(at).values())
    assert len(at.info) == 1


def test_a_failing_refresh_is_a_plain_warning_not_a_traceback(services, gateway, monkeypatch):
    services.connect(gateway.host, gateway.port)

    def slow(*_args, **_kwargs):
        raise TimeoutError("no answer within 4 s")

    monkeypatch.setattr(services.portfolio, "view", slow)
    at = run_app()
    assert not at.exception
    assert any("did not arrive in time" in w.value for w in at.warning)


@pytest.fixture
def fixture_portfolio(services, monkeypatch):
    """The page on a multi-currency, multi-asset advisor login as TWS sends it."""
    from tests.tws_accounts import FixturePortfolio

    fake = FixturePortfolio()
    monkeypatch.setattr(services, "portfolio", fake)
    return fake


def test_foreign_holdings_show_in_their_currency_and_totals_in_base(fixture_portfolio):
    from tests import tws_accounts as tws

    at = run_app()
    picker = at.sidebar.selectbox(key="account_picker")
    assert picker.label == "Account"
    assert picker.options == [tws.USD_ACCOUNT, tws.EUR_ACCOUNT, "All"]
    assert picker.value == tws.USD_ACCOUNT
    shown = metrics(at)
    assert money(shown["Net liquidation"]) == pytest.approx(tws.USD_NLV, abs=0.01)
    assert money(shown["Positions value"]) == pytest.approx(tws.USD_SECURITIES_BASE, abs=0.01)
    assert money(shown["Cash"]) == pytest.approx(tws.USD_CASH_BASE, abs=0.01)
    value_card = next(m for m in at.metric if m.label == "Positions value")
    assert value_card.delta == "6 securities · 1 future · 1 FX"
    table = at.dataframe[0].value.set_index("description")
    hk = table.loc["700 · SEHK · HKD"]
    assert hk["currency"] == "HKD" and hk["market_value"] == 400000.0
    assert hk["market_value_base"] == pytest.approx(51400.0)
    assert hk["weight_pct"] < 25
    assert "ES DEC 25" not in table.index and "EUR.USD" not in table.index
    futures = at.dataframe[1].value.set_index("description")
    es = futures.loc["ES DEC 25"]
    assert es["notional"] == 252500.0 and es["unrealized_pnl"] == 2500.0
    assert "market_value" not in futures.columns and "weight_pct" not in futures.columns
    fx = at.dataframe[2].value
    assert list(fx["description"]) == ["EUR.USD"] and "weight_pct" not in fx.columns
    call = table.loc["AAPL 17 JAN 25 200 Call"]
    assert call["avg_price"] == pytest.approx(5.205) and call["market_price"] == 6.10
    assert table.loc["UST 4.25% 2034"]["market_value"] == 9850.0
    assert any("exposure is $252,500.00" in c.value for c in at.caption)
    assert any("counted once" in m.value for m in at.main.markdown)
    classes = at.dataframe[3].value.set_index("Asset class")
    assert classes.loc["Stocks", "Value (USD)"] == "$85,100.00"  # 22,850 + 10,850 + 51,400
    assert classes.loc["Futures", "Value (USD)"] == "exposure $252,500.00"
    assert "FX" not in classes.index  # it is cash
    cash = cash_frame(at).set_index("Currency")
    assert list(cash.index) == ["USD", "EUR", "JPY"]
    assert cash.loc["EUR", "Balance"] == "€20,000.00"
    assert cash.loc["JPY", "In USD"] == "-$10,050.00"
    assert not at.warning


def test_asset_class_filter_narrows_the_tables(fixture_portfolio):
    at = run_app()
    pills = at.get("button_group")[0]
    pills.set_value(["Options", "Bonds"]).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["asset_class"]) == {"Options", "Bonds"}
    assert not any("FX positions" in m.value for m in at.main.markdown)


def test_account_picker_shows_each_account_in_its_own_base(fixture_portfolio):
    from tests import tws_accounts as tws

    at = run_app()
    at.sidebar.selectbox(key="account_picker").select(tws.EUR_ACCOUNT).run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Net liquidation"] == "€54,608.50"
    assert shown["Positions value"] == "€20,000.00"
    assert any("base currency EUR" in m.value for m in at.main.markdown)
    table = at.dataframe[0].value
    assert list(table["description"]) == ["SAP · IBIS · EUR"]
    at.sidebar.selectbox(key="account_picker").select("All").run()
    shown = metrics(at)
    # the EUR account converted with the USD account's own EUR rate (1.085)
    expected = tws.USD_NLV + 54608.50 * 1.085
    assert money(shown["Net liquidation"]) == pytest.approx(expected, abs=0.01)
    assert "account" in at.dataframe[0].value.columns


def test_all_is_not_offered_when_accounts_do_not_convert(services, monkeypatch):
    from tests import tws_accounts as tws

    class NoRates(tws.FixturePortfolio):
        def view(self, account=None):
            view = super().view(account)
            return type(view)(view.summary, view.rows, view.accounts, False)

    monkeypatch.setattr(services, "portfolio", NoRates())
    at = run_app()
    assert at.sidebar.selectbox(key="account_picker").options == [
        tws.USD_ACCOUNT,
        tws.EUR_ACCOUNT,
    ]


@pytest.fixture(params=["multi-asset", "eur-base", "advisor"])
def profile_gateway(request):
    """The simulator on one of its account profiles (skipped until profiles exist)."""
    pytest.importorskip("ibkr_core.simulator.profiles")
    from ibkr_core.simulator import start_in_background

    gw = start_in_background(
        seed=3, port=0, config=SimConfig(profile=request.param, market_open=False)
    )
    try:
        yield gw
    finally:
        gw.stop()


def wire_values(services) -> dict:
    """{account: {(tag, currency): value}} as TWS sent them to ib_async."""

    def read(ib):
        out: dict = {}
        for v in [*ib.accountValues(), *ib.wrapper.acctSummary.values()]:
            if not v.modelCode:
                out.setdefault(v.account, {}).setdefault((v.tag, v.currency), v.value)
        return out

    return services.connection.run(read)


def test_profiles_render_each_account_in_its_base_currency(services, profile_gateway):
    from tests.conftest import wait_for

    status = services.connect(profile_gateway.host, profile_gateway.port)
    assert status.connected, status.last_error
    accounts = status.accounts
    assert wait_for(
        lambda: all(
            services.portfolio.view(a).summary.net_liquidation is not None for a in accounts
        ),
        10,
    )
    at = run_app()
    values = wire_values(services)
    if len(accounts) > 1:
        picker = at.sidebar.selectbox(key="account_picker")
        assert list(picker.options)[: len(accounts)] == list(accounts)
    for account in accounts:
        if len(accounts) > 1:
            at.sidebar.selectbox(key="account_picker").select(account).run()
        assert not at.exception
        tags = values[account]
        base = next(c for (t, c) in tags if t == "NetLiquidation" and c != "BASE")
        nlv = float(tags[("NetLiquidation", base)])
        shown = metrics(at)
        assert any(f"base currency {base}" in m.value for m in at.main.markdown)
        assert shown["Net liquidation"].replace(",", "").lstrip("$€") == f"{nlv:.2f}", (
            account,
            shown,
        )
        table = at.dataframe[0].value
        assert len(table) > 0
        currencies = set(table["currency"])
        if currencies - {base}:  # foreign holdings: values in base next to their own
            assert "market_value_base" in table.columns
        cash = cash_frame(at)
        assert set(cash["Currency"]) == {
            c for (t, c) in tags if t == "TotalCashBalance" and c != "BASE"
        }


def test_allocation_is_keyed_by_contract_and_counts_futures_and_fx_once(fixture_portfolio):
    import json

    at = run_app()
    pie = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    labels = dict(zip(pie["labels"], pie["values"], strict=True))
    assert len(labels) == len(pie["labels"])  # one slice per contract
    assert "ES DEC 25" not in labels  # a future's value is its P&L, not its notional
    assert "EUR.USD" not in labels and labels["Cash EUR"] == pytest.approx(21700.0)
    assert labels["700 · SEHK · HKD"] == pytest.approx(51400.0)  # in base, not HK$400,000
    bars = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]
    assert "ES DEC 25" in bars["y"] and len(set(bars["y"])) == len(bars["y"])


def shown_cells(element) -> pd.DataFrame:
    """The table as the user reads it: the Styler's display values (money with signs)."""
    import pyarrow as pa

    data = pa.ipc.open_stream(element.proto.arrow_data.data).read_all().to_pandas()
    shown = pa.ipc.open_stream(element.proto.arrow_data.styler.display_values)
    display = shown.read_all().to_pandas()
    display.columns = data.columns
    return display.set_index("description")


def test_each_cell_reads_in_its_own_currency(fixture_portfolio):
    at = run_app()
    cells = shown_cells(at.dataframe[0])
    assert cells.loc["SAP · IBIS · EUR", "market_value"] == "€10,000.00"  # not $10,000.00
    assert cells.loc["700 · SEHK · HKD", "market_value"] == "HK$400,000.00"
    assert cells.loc["700 · SEHK · HKD", "market_value_base"] == "$51,400.00"
    assert cells.loc["AAPL 17 JAN 25 200 Call", "avg_price"] == "$5.2050"  # per share
    assert cells.loc["AAPL 17 JAN 25 200 Call", "market_price"] == "$6.10"
    assert cells.loc["UST 4.25% 2034", "market_price"] == "98.500"  # % of par, not $
    assert cells.loc["UST 4.25% 2034", "market_value"] == "$9,850.00"


def test_header_says_degraded_not_live_while_tws_lost_ibkr(services, gateway):
    from tests.conftest import wait_for

    services.connect(gateway.host, gateway.port)
    gateway.emit_connectivity(1100)
    assert wait_for(lambda: services.connection.status().degraded, 5)
    at = run_app()
    header = [m.value for m in at.main.markdown if "base currency" in m.value]
    assert header and "degraded" in header[0] and "live]" not in header[0]
    gateway.emit_connectivity(1102)
    assert wait_for(lambda: not services.connection.status().degraded, 5)
    at = run_app()
    assert any("bolt: live" in m.value for m in at.main.markdown if "base currency" in m.value)


def test_a_slow_tws_does_not_break_the_account_picker(services, monkeypatch):
    from tests import tws_accounts as tws

    class Slow(tws.FixturePortfolio):
        def view(self, account=None):
            raise TimeoutError("no answer within 4 s")

    monkeypatch.setattr(services, "portfolio", Slow())
    at = run_app()
    assert not at.exception
    picker = at.sidebar.selectbox(key="account_picker")
    assert picker.options == [tws.USD_ACCOUNT, tws.EUR_ACCOUNT]  # no "All" while unsure
    assert any("did not arrive in time" in w.value for w in at.warning)
