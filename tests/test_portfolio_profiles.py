"""The portfolio on the simulator's account profiles (multi-asset, eur-base, advisor),
with the real ib_async over a real socket.

Every expected figure is the profile's own, as TWS sends it to ib_async: the account
values (NetLiquidation, TotalCashValue, TotalCashBalance and ExchangeRate per currency)
and the portfolio updates (marketValue in the contract's currency). Nothing is checked
against our own formulas."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for

pytest.importorskip("ibkr_core.simulator.profiles")
pytestmark = pytest.mark.timeout(60)

PROFILES = ("multi-asset", "eur-base", "advisor")


@pytest.fixture(params=PROFILES)
def gateway_config(request):
    """A still market: prices move only when a test moves them."""
    from ibkr_core.simulator import SimConfig

    return SimConfig(profile=request.param, tick_interval=3600.0, pnl_interval=0.25)


def wire(connection) -> tuple[dict, dict, dict]:
    """What TWS sent: {account: {(tag, currency): value}} (account window first, then
    the account summary), {(account, conId): PortfolioItem} and reqPnLSingle values."""

    def read(ib):
        values: dict = {}
        for v in [*ib.accountValues(), *ib.wrapper.acctSummary.values()]:
            if not v.modelCode:
                values.setdefault(v.account, {}).setdefault((v.tag, v.currency), v.value)
        items = {(i.account, i.contract.conId): i for i in ib.portfolio()}
        singles = {(p.account, p.conId): p for p in ib.pnlSingle()}
        return values, items, singles

    return connection.run(read)


def base_of(tags: dict) -> str:
    return next(cur for (tag, cur) in tags if tag == "NetLiquidation" and cur != "BASE")


def rate(tags: dict, currency: str, base: str) -> float:
    return 1.0 if currency == base else float(tags[("ExchangeRate", currency)])


def views(portfolio) -> dict:
    """Each account's view, once every account's values and every position's P&L came."""

    def ready():
        accounts = portfolio.accounts()
        out = {a: portfolio.view(a) for a in accounts}
        complete = all(
            v.summary.net_liquidation is not None
            and all(r.market_value is not None or r.notional is not None for r in v.rows)
            for v in out.values()
        )
        return out if complete else None

    found = wait_for(ready, 10)
    assert found, "the profile's account data did not arrive"
    return found


def test_totals_are_the_accounts_own_in_its_base_currency(gateway, connection, portfolio):
    found = views(portfolio)
    values, _items, _singles = wire(connection)
    for account, view in found.items():
        tags = values[account]
        base = base_of(tags)
        s = view.summary
        assert s.currency == base, account
        assert s.net_liquidation == pytest.approx(float(tags[("NetLiquidation", base)]), abs=0.01)
        assert s.total_cash == pytest.approx(float(tags[("TotalCashValue", base)]), abs=0.01)
        assert s.unconverted == ()
        cash = {line.currency: line for line in s.cash}
        for (tag, cur), raw in tags.items():
            if tag != "TotalCashBalance" or cur == "BASE":
                continue
            assert cash[cur].balance == pytest.approx(float(raw), abs=0.01), (account, cur)
            expected = float(raw) * rate(tags, cur, base)
            assert cash[cur].base_value == pytest.approx(expected, abs=0.01), (account, cur)
        # IBKR: net liquidation = total cash (futures P&L included) + stocks + options +
        # bonds (+ accrued cash): the positions value is what is not cash, so nothing
        # (ES's notional, EUR.USD's EUR) is counted twice or left out
        accrued = float(tags.get(("AccruedCash", base), 0) or 0)
        not_cash = s.net_liquidation - s.total_cash - accrued
        assert s.positions_value == pytest.approx(not_cash, abs=0.05), account


def test_rows_carry_ibkr_market_values_in_their_currency(gateway, connection, portfolio):
    found = views(portfolio)
    values, items, singles = wire(connection)
    checked = 0
    for account, view in found.items():
        tags = values[account]
        base = base_of(tags)
        for row in view.rows:
            item = items.get((account, row.con_id))
            if item is None:  # outside the account window (one account only): reqPnLSingle
                single = singles[(account, row.con_id)]
                in_base = row.notional_base if row.sec_type == "FUT" else row.market_value_base
                assert in_base == pytest.approx(single.value, abs=0.01), row.description
                local = row.notional if row.sec_type == "FUT" else row.market_value
                fx = rate(tags, row.currency, base)
                assert local == pytest.approx(single.value / fx, abs=0.01)
                checked += 1
                continue
            checked += 1
            c = item.contract
            assert row.currency == c.currency and row.sec_type == c.secType
            ibkr_value = item.marketValue
            if c.secType == "FUT":
                assert row.market_value is None and row.weight_pct is None
                assert row.notional == pytest.approx(ibkr_value, abs=0.01)
            else:
                assert row.market_value == pytest.approx(ibkr_value, abs=0.01), row.description
                expected = ibkr_value * rate(tags, c.currency, base)
                assert row.market_value_base == pytest.approx(expected, abs=0.01)
            assert row.unrealized_pnl == pytest.approx(item.unrealizedPNL, abs=0.01)
            mult = float(c.multiplier) if c.multiplier else None
            if mult:  # TWS's Avg price: averageCost per contract / multiplier
                assert row.avg_price == pytest.approx(item.averageCost / mult)
    assert checked == sum(len(v.rows) for v in found.values()) > 0


def test_instruments_read_as_traders_read_them(gateway, connection, portfolio):
    found = views(portfolio)
    rows = [r for v in found.values() for r in v.rows]
    names = {r.description for r in rows}
    by_type = {r.sec_type for r in rows}
    if "OPT" in by_type:
        option = next(r for r in rows if r.sec_type == "OPT")
        assert option.description.endswith((" Call", " Put")) and option.multiplier == 100
    if "FUT" in by_type:
        assert any(n.startswith("ES ") and n.split()[1] in ("DEC", "MAR") for n in names)
    if "BOND" in by_type:
        bond = next(r for r in rows if r.sec_type == "BOND")
        # "UST 4.25% 2034" once its contract details arrive (tests/test_ib_compat.py), the
        # CUSIP until then: "UST 2034 · 91282CLW9"
        assert bond.description.startswith("UST ") and "2034" in bond.description
    assert len({(r.account, r.con_id) for r in rows}) == len(rows)


@pytest.mark.parametrize("gateway_config", ["advisor"], indirect=True)
def test_advisor_accounts_each_in_their_own_base(gateway, connection, portfolio):
    found = views(portfolio)
    assert len(found) == 3
    assert {v.summary.currency for v in found.values()} == {"USD", "EUR"}
    view = next(iter(found.values()))
    assert view.choices == (*found, "All")
    values, _items, _singles = wire(connection)
    # All in USD (two of three accounts): the EUR account through its own USD rate
    expected = 0.0
    for tags in values.values():
        base = base_of(tags)
        nlv = float(tags[("NetLiquidation", base)])
        expected += nlv if base == "USD" else nlv / float(tags[("ExchangeRate", "USD")])
    combined = portfolio.view("All").summary
    assert combined.convertible and combined.currency == "USD"
    assert combined.net_liquidation == pytest.approx(expected, abs=0.05)
    assert {r.account for r in portfolio.view("All").rows} == set(found)


def test_demo_profile_setting_picks_the_demo_account(tmp_path):
    from ibkr_core.services import build_services
    from ibkr_core.settings import Settings

    def demo(profile: str):
        return build_services(
            Settings(watchlist_file=str(tmp_path / "w.json"), demo_profile=profile)
        )

    services = demo("")
    try:
        assert services.demo.config.profile == "multi-asset"  # the Demo preset's default
    finally:
        services.close()
    services = demo("advisor")
    try:
        status = services.connect_demo()
        assert status.connected and len(status.accounts) == 3
    finally:
        services.close()
    services = demo("nonsense")
    try:
        status = services.connect_demo()
        assert not status.connected and "nonsense" in (status.last_error or "")
    finally:
        services.close()
