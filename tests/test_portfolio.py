"""PortfolioService against the simulated gateway (real ib_async over a real socket)."""

from __future__ import annotations

import time

import pytest

from ibkr_core.contracts import create_contract
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def gateway_config():
    """A still market (no random walk): prices move only through gw.set_price, so the
    simulator's numbers can be compared exactly."""
    from ibkr_core.simulator import SimConfig

    return SimConfig(tick_interval=3600.0, pnl_interval=0.25)


def sim_value(gw, tag: str) -> float:
    return gw.call(lambda: gw.gateway.account.value(gw.gateway.market, tag))


def sim_portfolio(gw) -> dict[str, tuple[float, float, float, float]]:
    """symbol -> (qty, avg cost, market value, unrealized) as the simulator sees it."""

    def read():
        items = gw.gateway.account.portfolio(gw.gateway.market)
        return {
            i.instrument.symbol: (i.position, i.average_cost, i.market_value, i.unrealized_pnl)
            for i in items
            if i.position
        }

    return gw.call(read)


def sim_pnl(gw) -> tuple[float, float, float]:
    return gw.call(lambda: gw.gateway.account.daily_pnl(gw.gateway.market))


def test_not_connected_summary_is_zeros_and_no_positions(loop_thread):
    from ibkr_core.connection import IBKRConnection
    from ibkr_core.portfolio import SOURCE_NOT_CONNECTED, PortfolioService
    from ibkr_core.settings import Settings

    conn = IBKRConnection(Settings(port=1), loop_thread, auto_reconnect=False)
    service = PortfolioService(conn)
    summary = service.portfolio_summary()
    assert summary.source == SOURCE_NOT_CONNECTED
    assert summary.connected is False
    assert summary.accounts == ()
    assert summary.net_liquidation == 0.0 and summary.total_cash == 0.0
    assert summary.positions_count == 0 and summary.positions_value == 0.0
    assert summary.daily_pnl == summary.unrealized_pnl == summary.realized_pnl == 0.0
    assert service.positions() == []
    service.close()


def test_summary_and_positions_match_the_simulated_account(gateway, connection, portfolio):
    summary = portfolio.portfolio_summary()
    assert summary.connected and summary.source == "ibkr"
    assert summary.accounts == (gateway.account_id,)
    assert summary.currency == "USD"
    assert summary.net_liquidation == pytest.approx(sim_value(gateway, "NetLiquidation"), abs=0.01)
    assert summary.total_cash == pytest.approx(sim_value(gateway, "TotalCashValue"), abs=0.01)
    expected = sim_portfolio(gateway)
    assert summary.positions_count == len(expected) == 4
    assert summary.positions_value == pytest.approx(sum(v[2] for v in expected.values()), abs=0.01)
    daily, unrealized, realized = sim_pnl(gateway)
    assert summary.daily_pnl == pytest.approx(daily, abs=0.01)
    assert summary.unrealized_pnl == pytest.approx(unrealized, abs=0.01)
    assert summary.realized_pnl == pytest.approx(realized, abs=0.01)
    assert summary.per_account[gateway.account_id].net_liquidation == summary.net_liquidation
    assert portfolio.portfolio_summary(gateway.account_id).total_cash == summary.total_cash
    with pytest.raises(ValueError):
        portfolio.portfolio_summary("DU0000000")

    rows = portfolio.positions()
    assert {r.symbol for r in rows} == set(expected)
    for row in rows:
        qty, avg, value, unrealized = expected[row.symbol]
        assert row.account == gateway.account_id
        assert row.sec_type == "STK" and row.currency == "USD" and row.con_id > 0
        assert row.quantity == qty
        assert row.avg_cost == pytest.approx(avg)
        assert row.market_value == pytest.approx(value, abs=0.01)
        assert row.market_price == pytest.approx(value / qty, abs=1e-6)
        assert row.unrealized_pnl == pytest.approx(unrealized, abs=0.01)
        assert row.unrealized_pnl_pct == pytest.approx(unrealized / (qty * avg) * 100, rel=1e-6)
        assert row.weight_pct == pytest.approx(value / summary.net_liquidation * 100, rel=1e-6)
        assert row.realized_pnl == 0.0
    assert portfolio.positions(gateway.account_id) == rows
    assert portfolio.positions("DU0000000") == []


def test_a_fill_moves_position_cash_and_pnl_consistently(gateway, connection, portfolio):
    from ib_async import MarketOrder

    before = portfolio.portfolio_summary()
    aapl_before = next(r for r in portfolio.positions() if r.symbol == "AAPL")
    contract = create_contract(connection, "AAPL")
    trade = connection.run(lambda ib: ib.placeOrder(contract, MarketOrder("BUY", 10)))
    assert wait_for(lambda: trade.orderStatus.status == "Filled", 5)
    fill = wait_for(
        lambda: trade.fills and trade.fills[0].commissionReport.execId and trade.fills, 5
    )
    price = fill[0].execution.price
    commission = fill[0].commissionReport.commission
    assert commission > 0

    aapl = wait_for(
        lambda: next(
            (r for r in portfolio.positions() if r.symbol == "AAPL" and r.quantity == 110), None
        ),
        5,
    )
    assert aapl is not None
    # IBKR's average cost includes the commission
    assert aapl.avg_cost == pytest.approx(
        (aapl_before.quantity * aapl_before.avg_cost + 10 * price + commission) / 110
    )
    after = wait_for(
        lambda: (s := portfolio.portfolio_summary()).total_cash != before.total_cash and s, 5
    )
    assert after.total_cash == pytest.approx(before.total_cash - 10 * price - commission, abs=0.01)
    assert after.total_cash == pytest.approx(sim_value(gateway, "TotalCashValue"), abs=0.01)
    assert after.net_liquidation == pytest.approx(sim_value(gateway, "NetLiquidation"), abs=0.01)
    mark = aapl.market_price
    assert after.positions_value == pytest.approx(before.positions_value + 10 * mark, abs=0.01)
    # daily P&L: bought at the ask, marked at the last, minus commission
    expected_daily = before.daily_pnl - 10 * (price - mark) - commission
    settled = wait_for(
        lambda: (
            (s := portfolio.portfolio_summary()).daily_pnl is not None
            and abs(s.daily_pnl - expected_daily) < 0.01
            and s
        ),
        3,
    )
    assert settled, (portfolio.portfolio_summary().daily_pnl, expected_daily)
    assert settled.daily_pnl == pytest.approx(sim_pnl(gateway)[0], abs=0.01)


def test_position_values_follow_a_price_move_within_seconds(gateway, connection, portfolio):
    before = {r.symbol: r for r in portfolio.positions()}
    nlv_before = portfolio.portfolio_summary().net_liquidation
    new_price = round(before["AAPL"].market_price * 1.10, 2)
    started = time.monotonic()
    gateway.set_price("AAPL", new_price)
    row = wait_for(
        lambda: next(
            (
                r
                for r in portfolio.positions()
                if r.symbol == "AAPL" and r.market_price == new_price
            ),
            None,
        ),
        2.5,
    )
    took = time.monotonic() - started
    assert row is not None, "AAPL's value did not follow the price within 2.5 s"
    assert row.market_value == pytest.approx(100 * new_price)
    assert row.unrealized_pnl == pytest.approx(100 * (new_price - before["AAPL"].avg_cost))
    summary = portfolio.portfolio_summary()
    move = 100 * (new_price - before["AAPL"].market_price)
    # the account window (3-minute refresh) hasn't moved: NetLiquidation follows anyway
    assert summary.net_liquidation == pytest.approx(nlv_before + move, abs=0.01)
    assert summary.net_liquidation == pytest.approx(sim_value(gateway, "NetLiquidation"), abs=0.01)
    print(f"price move -> position value: {took:.3f} s")


def test_pnl_single_subscriptions_follow_positions_and_reconnects(gateway, connection, portfolio):
    from ib_async import MarketOrder

    from ibkr_core.connection import ConnectionState

    def sim_single_conids() -> set[int]:
        return gateway.call(
            lambda: {c for s in gateway.gateway.sessions for c in s.pnl_single_requests.values()}
        )

    rows = portfolio.positions()
    assert wait_for(lambda: sim_single_conids() == {r.con_id for r in rows}, 3)

    msft = next(r for r in rows if r.symbol == "MSFT")
    contract = create_contract(connection, "MSFT")
    connection.run(lambda ib: ib.placeOrder(contract, MarketOrder("SELL", msft.quantity)))
    assert wait_for(lambda: "MSFT" not in {r.symbol for r in portfolio.positions()}, 5)
    assert wait_for(lambda: msft.con_id not in sim_single_conids(), 3)

    reconnected = []

    def on_reconnected(status) -> None:
        reconnected.append(status)

    def listen() -> None:  # (returning the Event would make loop.call await it)
        connection.reconnected_event.connect(on_reconnected)

    connection.loop.call(listen)
    gateway.drop_all_clients()
    assert wait_for(lambda: connection.status().state == ConnectionState.RECONNECTING, 5)
    assert wait_for(lambda: reconnected, 10), "the connection's reconnect did not complete"
    # resubscribed by the reconnect event itself, before anyone reads positions
    assert wait_for(lambda: len(sim_single_conids()) == 3, 3)
    held = {r.con_id for r in portfolio.positions()}
    assert len(held) == 3
    assert wait_for(lambda: sim_single_conids() == held, 3)
    nvda = next(r for r in portfolio.positions() if r.symbol == "NVDA")
    gateway.set_price("NVDA", round(nvda.market_price + 5, 2))
    assert wait_for(
        lambda: any(
            r.symbol == "NVDA" and r.market_price == round(nvda.market_price + 5, 2)
            for r in portfolio.positions()
        ),
        2.5,
    )
    assert portfolio.portfolio_summary().daily_pnl is not None


def test_reads_stay_bounded_when_the_gateway_stalls(gateway, connection, portfolio):
    portfolio.positions()
    gateway.set_response_delay(10.0)
    started = time.monotonic()
    summary = portfolio.portfolio_summary()
    rows = portfolio.positions()
    elapsed = time.monotonic() - started
    gateway.set_response_delay(0.0)
    assert elapsed < connection.settings.request_timeout
    assert summary.connected and len(rows) == 4
