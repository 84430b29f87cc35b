"""Simulator account profiles (multi-asset, eur-base, advisor), read by the real ib_async
over a real socket: every profile's numbers add up the way TWS's do, before and after
fills, in every currency."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ib_async import IB, Contract, ExecutionFilter, Forex, Future, LimitOrder, MarketOrder, Stock

from ibkr_core.simulator import BackgroundGateway, SimConfig, start_in_background
from tests.sim_support import (
    background_gateway,
    connected,
    managed_accounts,
    official_app_class,
    official_session,
    run,
    simulator_cli,
    wait_until,
)

pytestmark = pytest.mark.timeout(40)

STILL = SimConfig(tick_interval=3600.0, pnl_interval=0.25)
CALL = "AAPL  270115C00230000"
PUT = "AAPL  270115P00200000"
# Ledger tags whose per-currency sum is the account's value (futures are in CashBalance).
VALUE_TAGS = ("StockMarketValue", "OptionMarketValue", "FutureOptionValue", "TBondValue")


def start(profile: str, config: SimConfig = STILL) -> BackgroundGateway:
    return start_in_background(seed=5, port=0, config=config, profile=profile)


@pytest.fixture
def multi() -> Iterator[BackgroundGateway]:
    with background_gateway(seed=5, port=0, config=STILL, profile="multi-asset") as gw:
        yield gw


def values(ib: IB, account: str = "") -> dict[tuple[str, str], str]:
    return {
        (v.tag, v.currency): v.value
        for v in ib.accountValues()
        if not account or v.account == account
    }


def num(vals: dict[tuple[str, str], str], tag: str, currency: str) -> float:
    return float(vals[tag, currency])


def currencies(vals: dict[tuple[str, str], str]) -> list[str]:
    return sorted(c for (tag, c) in vals if tag == "ExchangeRate" and c != "BASE")


def check_consistency(ib: IB, account: str, base: str) -> dict[tuple[str, str], str]:
    """The identities TWS's account window obeys, checked on what ib_async received:
    per currency, NetLiquidationByCurrency = CashBalance + security values; BASE = the
    sum converted at the account's own ExchangeRate; NetLiquidation = cash + positions'
    marketValue converted (futures only through their P&L, FX positions not at all)."""
    vals = values(ib, account)
    assert vals["ExchangeRate", base] == "1.00"
    rows = len(currencies(vals)) * 4  # each figure is rounded to the cent
    tol = 0.01 * rows + 0.01
    nlv = num(vals, "NetLiquidation", base)
    assert num(vals, "NetLiquidationByCurrency", "BASE") == pytest.approx(nlv, abs=0.01)
    by_rate = cash = 0.0
    for cur in currencies(vals):
        rate = num(vals, "ExchangeRate", cur)
        per_cur = num(vals, "CashBalance", cur) + sum(num(vals, t, cur) for t in VALUE_TAGS)
        per_cur += num(vals, "Cryptocurrency", cur)
        assert num(vals, "NetLiquidationByCurrency", cur) == pytest.approx(per_cur, abs=0.03)
        by_rate += rate * num(vals, "NetLiquidationByCurrency", cur)
        cash += rate * num(vals, "CashBalance", cur)
    assert by_rate == pytest.approx(nlv, abs=tol)
    assert num(vals, "CashBalance", "BASE") == pytest.approx(cash, abs=tol)
    positions = 0.0
    for item in ib.portfolio(account):
        if item.contract.secType in ("FUT", "CASH"):
            continue
        positions += item.marketValue * num(vals, "ExchangeRate", item.contract.currency)
    assert nlv == pytest.approx(cash + positions, abs=tol)
    return vals


def by_local_symbol(ib: IB, account: str = "") -> dict[str, Any]:
    return {p.contract.localSymbol: p for p in ib.portfolio(account)}


# --- multi-asset ----------------------------------------------------------------------


def test_multi_asset_holds_every_asset_class_with_tws_shapes(multi):
    async def scenario():
        ib = await connected(multi)
        account = ib.managedAccounts()[0]
        vals = check_consistency(ib, account, "USD")
        items = by_local_symbol(ib, account)
        positions = {p.contract.localSymbol: p for p in ib.positions()}
        singles = {
            name: ib.reqPnLSingle(account, "", items[name].contract.conId)
            for name in ("SAP", "700", "ESZ6")
        }
        await wait_until(lambda: all(not math.isnan(p.value) for p in singles.values()), 3)
        ib.disconnect()
        return vals, items, positions, singles

    vals, items, positions, singles = run(scenario())
    # reqPnLSingle reports in the base currency: marketValue converted at ExchangeRate.
    for name, cur in (("SAP", "EUR"), ("700", "HKD"), ("ESZ6", "USD")):
        rate = num(vals, "ExchangeRate", cur)
        assert singles[name].value == pytest.approx(items[name].marketValue * rate, abs=0.01)
        assert singles[name].unrealizedPnL == pytest.approx(
            items[name].unrealizedPNL * rate, abs=0.01
        )
    assert currencies(vals) == ["EUR", "HKD", "JPY", "USD"]
    assert 0.5 < num(vals, "ExchangeRate", "EUR") < 2 and num(vals, "ExchangeRate", "JPY") < 0.02
    assert {i.contract.secType for i in items.values()} == {
        "STK",
        "OPT",
        "FUT",
        "FOP",
        "CASH",
        "BOND",
        "CRYPTO",
    }
    call, put = items[CALL], items[PUT]
    assert (call.contract.right, call.contract.strike) == ("C", 230)
    assert call.contract.multiplier == "100"
    assert call.contract.lastTradeDateOrContractMonth == "20270115"
    assert call.marketValue == pytest.approx(call.position * call.marketPrice * 100)
    assert call.averageCost == pytest.approx(1520.65)  # per contract, multiplier included
    assert put.position == -3 and put.marketValue < 0
    es = items["ESZ6"]
    assert es.contract.multiplier == "50" and es.marketValue == pytest.approx(es.marketPrice * 50)
    bond = items["91282CLW9"]
    assert 90 < bond.marketPrice < 110  # percent of par
    assert bond.marketValue == pytest.approx(bond.position * bond.marketPrice / 100 * 1000)
    assert num(vals, "TBondValue", "USD") == pytest.approx(bond.marketValue, abs=0.01)
    sap, tencent = items["SAP"], items["700"]
    assert (sap.contract.currency, sap.contract.primaryExchange) == ("EUR", "IBIS")
    assert num(vals, "StockMarketValue", "EUR") == pytest.approx(sap.marketValue, abs=0.01)
    assert tencent.contract.currency == "HKD"
    assert num(vals, "CashBalance", "HKD") == -8000.0  # a loan in HKD, as IBKR allows
    btc = items["BTC.USD"]
    assert btc.contract.secType == "CRYPTO" and btc.position == 0.5
    assert num(vals, "Cryptocurrency", "USD") == pytest.approx(btc.marketValue, abs=0.01)
    # FuturesPNL is the future's change since the last settlement, and part of cash.
    assert num(vals, "FuturesPNL", "USD") != 0
    # Securities (-S) and commodities (-C) segments add up to the totals.
    for tag in ("NetLiquidation", "InitMarginReq", "AvailableFunds"):
        parts = num(vals, f"{tag}-S", "USD") + num(vals, f"{tag}-C", "USD")
        assert parts == pytest.approx(num(vals, tag, "USD"), abs=0.02)
    assert num(vals, "InitMarginReq-C", "USD") > 0
    assert positions[CALL].avgCost == pytest.approx(1520.65)
    assert positions["ESZ6"].contract.multiplier == "50"


def test_fills_in_foreign_currency_options_futures_and_fx_keep_the_books_consistent(multi):
    def sim_cash(cur: str) -> float:
        """Cash the simulator holds in `cur`, without the futures' P&L."""
        return multi.account_value("CashBalance", cur) - multi.account_value("FuturesPNL", cur)

    async def scenario():
        ib = await connected(multi)
        account = ib.managedAccounts()[0]
        before = {cur: sim_cash(cur) for cur in ("USD", "EUR")}
        [sap] = await ib.qualifyContractsAsync(Stock("SAP", "SMART", "EUR"))
        sell = ib.placeOrder(sap, MarketOrder("SELL", 10))
        await wait_until(lambda: sell.isDone() and sell.fills, 3)
        await asyncio.sleep(0.2)
        after_sap = check_consistency(ib, account, "USD")
        eur_after = {cur: sim_cash(cur) for cur in ("USD", "EUR")}
        [opt] = await ib.qualifyContractsAsync(Contract(secType="OPT", localSymbol=CALL))
        buy = ib.placeOrder(opt, MarketOrder("BUY", 1))
        await wait_until(lambda: buy.isDone() and buy.fills, 3)
        [fut] = await ib.qualifyContractsAsync(Future("ES", "202612", "CME"))
        fut_trade = ib.placeOrder(fut, MarketOrder("BUY", 1))
        await wait_until(lambda: fut_trade.isDone() and fut_trade.fills, 3)
        usd_before_fx = sim_cash("USD")
        [eur] = await ib.qualifyContractsAsync(Forex("EURUSD"))
        fx = ib.placeOrder(eur, MarketOrder("BUY", 20_000))
        await wait_until(lambda: fx.isDone() and fx.fills, 3)
        await asyncio.sleep(0.3)
        final = check_consistency(ib, account, "USD")
        items = by_local_symbol(ib, account)
        ib.disconnect()
        return before, sell, after_sap, eur_after, buy, fut_trade, usd_before_fx, fx, final, items

    before, sell, after_sap, eur_after, buy, fut, usd_fx, fx, final, items = run(scenario())
    [f] = sell.fills
    assert f.commissionReport.currency == "EUR" and f.execution.exchange == "IBIS"
    proceeds = 10 * f.execution.price - f.commissionReport.commission
    assert eur_after["EUR"] == pytest.approx(before["EUR"] + proceeds)
    assert eur_after["USD"] == pytest.approx(before["USD"])  # nothing moved in USD
    assert items["SAP"].position == 40
    [o] = buy.fills
    assert o.commissionReport.commission == pytest.approx(1.00)  # 0.65/contract, min 1.00
    assert items[CALL].position == 6
    assert items[CALL].averageCost == pytest.approx(
        (5 * 1520.65 + 100 * o.execution.price + 1.00) / 6
    )
    [fo] = fut.fills
    assert fo.commissionReport.commission == pytest.approx(0.85)
    assert items["ESZ6"].position == 2
    assert items["ESZ6"].averageCost == pytest.approx(
        (339_500.85 + 50 * fo.execution.price + 0.85) / 2
    )
    [x] = fx.fills
    assert num(final, "CashBalance", "EUR") == pytest.approx(
        num(after_sap, "CashBalance", "EUR") + 20_000, abs=0.01
    )
    # A future's fill moves only its commission: USD cash moved by the option (premium
    # + commission) and the future's commission before the FX trade.
    assert usd_fx == pytest.approx(eur_after["USD"] - 100 * o.execution.price - 1.00 - 0.85)
    assert x.commissionReport.currency == "USD"
    assert items["EUR.USD"].position == 35_000


def test_contract_lookup_returns_every_match_with_sec_type_fields(multi):
    async def scenario():
        ib = await connected(multi)
        errors: list[int] = []
        ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
        sap = await ib.reqContractDetailsAsync(Contract(symbol="SAP", secType="STK"))
        es = await ib.reqContractDetailsAsync(Contract(symbol="ES"))
        [opt] = await ib.reqContractDetailsAsync(Contract(secType="OPT", localSymbol=CALL))
        puts = await ib.reqContractDetailsAsync(
            Contract(symbol="AAPL", secType="OPT", lastTradeDateOrContractMonth="202701", right="P")
        )
        # Not qualified first (ib_async would refuse it): TWS itself must say ambiguous.
        ib.client.reqMktData(9999, Contract(symbol="SAP", secType="STK"), "", False, False, [])
        await asyncio.sleep(0.3)
        ambiguous = [code for code in errors if code == 200]
        ib.disconnect()
        return sap, es, opt, puts, ambiguous

    sap, es, opt, puts, ambiguous = run(scenario())
    assert sorted((d.contract.primaryExchange, d.contract.currency) for d in sap) == [
        ("IBIS", "EUR"),
        ("NYSE", "USD"),
    ]
    kinds = {d.contract.secType: d for d in es}
    assert set(kinds) == {"STK", "FUT", "FOP"}
    fut = kinds["FUT"]
    assert (fut.contract.localSymbol, fut.contract.multiplier, fut.contractMonth) == (
        "ESZ6",
        "50",
        "202612",
    )
    assert fut.minTick == 0.25 and fut.contract.exchange == "CME" and fut.underSymbol == "ES"
    assert fut.contract.lastTradeDateOrContractMonth == "20261218"
    assert opt.contract.multiplier == "100" and opt.contract.tradingClass == "AAPL"
    assert (opt.contract.strike, opt.contract.right) == (230.0, "C")
    assert opt.underConId == 265598 and opt.minTick == 0.01
    assert [p.contract.localSymbol for p in puts] == [PUT]
    assert ambiguous == [200]  # TWS: "The contract description specified for SAP is ambiguous."


def test_quotes_move_options_carry_model_greeks_and_fx_keeps_its_precision():
    gw = start("multi-asset", SimConfig(tick_interval=0.1))
    try:

        async def scenario():
            ib = await connected(gw)
            [opt] = await ib.qualifyContractsAsync(Contract(secType="OPT", localSymbol=CALL))
            [jpy] = await ib.qualifyContractsAsync(Forex("USDJPY"))
            [btc] = await ib.qualifyContractsAsync(
                Contract(symbol="BTC", secType="CRYPTO", exchange="PAXOS", currency="USD")
            )
            t_opt, t_jpy, t_btc = ib.reqMktData(opt), ib.reqMktData(jpy), ib.reqMktData(btc)
            await wait_until(lambda: t_opt.modelGreeks is not None and t_jpy.bid > 0, 3)
            first = t_opt.modelGreeks
            gw.set_price("AAPL", first.undPrice * 1.05)
            await wait_until(lambda: t_opt.modelGreeks.undPrice > first.undPrice * 1.02, 3)
            second = t_opt.modelGreeks
            jpy_quotes = set()
            for _ in range(20):
                jpy_quotes.add(t_jpy.bid)
                await asyncio.sleep(0.1)
            ib.disconnect()
            return first, second, t_jpy, jpy_quotes, t_btc

        first, second, t_jpy, jpy_quotes, t_btc = run(scenario())
    finally:
        gw.stop()
    assert 0 < first.delta < 1 and first.impliedVol == pytest.approx(0.27)
    assert first.gamma > 0 and first.vega > 0 and first.theta < 0
    assert second.optPrice > first.optPrice and second.delta > first.delta
    assert 100 < t_jpy.bid < 200
    assert all(round(q / 0.005) * 0.005 == pytest.approx(q) for q in jpy_quotes)
    assert len(jpy_quotes) > 1  # exchange rates move
    assert t_btc.last > 1000


def test_what_if_margin_depends_on_the_instrument(multi):
    async def scenario():
        ib = await connected(multi)
        [stk] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
        [fut] = await ib.qualifyContractsAsync(Future("ES", "202612", "CME"))
        [put] = await ib.qualifyContractsAsync(Contract(secType="OPT", localSymbol=PUT))
        [call] = await ib.qualifyContractsAsync(Contract(secType="OPT", localSymbol=CALL))
        [btc] = await ib.qualifyContractsAsync(
            Contract(symbol="BTC", secType="CRYPTO", exchange="PAXOS")
        )
        states = {}
        for name, contract, order in (
            ("stock", stk, MarketOrder("BUY", 10)),
            ("future", fut, MarketOrder("BUY", 1)),
            ("short put", put, MarketOrder("SELL", 1)),
            ("long call", call, MarketOrder("BUY", 1)),
            ("crypto", btc, LimitOrder("BUY", 0.1, 200_000)),
        ):
            states[name] = await ib.whatIfOrderAsync(contract, order)
        ticker = ib.reqMktData(fut)
        await wait_until(lambda: ticker.last > 0, 2)
        ib.disconnect()
        return states, ticker.last, stk

    states, es_last, _ = run(scenario())
    change = {k: float(s.initMarginChange) for k, s in states.items()}
    assert change["future"] == pytest.approx(0.075 * 50 * es_last, rel=0.01)
    assert change["short put"] > 1000  # premium + 10-20% of the underlying, x100
    assert change["long call"] == pytest.approx(0.0, abs=0.01)  # paid in full, no margin
    assert 0 < change["stock"] < change["future"]
    assert states["crypto"].commissionCurrency == "USD"


# --- eur-base -------------------------------------------------------------------------


def test_eur_base_account_converts_into_euros():
    gw = start("eur-base")
    try:

        async def scenario():
            ib = await connected(gw)
            account = ib.managedAccounts()[0]
            before = check_consistency(ib, account, "EUR")
            [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            trade = ib.placeOrder(aapl, MarketOrder("SELL", 20))
            await wait_until(lambda: trade.isDone() and trade.fills, 5)
            await asyncio.sleep(0.2)
            after = check_consistency(ib, account, "EUR")
            summary = await ib.accountSummaryAsync(account)
            pnl = ib.reqPnL(account)
            await wait_until(lambda: not math.isnan(pnl.dailyPnL), 2)
            ib.disconnect()
            return before, after, summary, trade, pnl

        before, after, summary, trade, pnl = run(scenario())
    finally:
        gw.stop()
    assert currencies(before) == ["EUR", "HKD", "USD"]
    assert 0.5 < num(before, "ExchangeRate", "USD") < 1.5
    assert {v.currency for v in summary if v.tag == "NetLiquidation"} == {"EUR"}
    [fill] = trade.fills
    usd_in = 20 * fill.execution.price - fill.commissionReport.commission
    assert num(after, "CashBalance", "USD") == pytest.approx(
        num(before, "CashBalance", "USD") + usd_in, abs=0.01
    )
    assert num(after, "CashBalance", "EUR") == num(before, "CashBalance", "EUR")
    assert not math.isnan(pnl.realizedPnL) and pnl.realizedPnL != 0


# --- advisor --------------------------------------------------------------------------


def test_advisor_login_manages_separate_accounts():
    gw = start("advisor")
    try:

        async def scenario():
            ib = await connected(gw)
            errors: list[tuple[int, int]] = []
            ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code))
            accounts = ib.managedAccounts()
            for acc in accounts:
                await ib.reqAccountUpdatesAsync(acc)
            checked = {
                acc: check_consistency(ib, acc, base)
                for acc, base in zip(accounts, ("USD", "EUR", "USD"), strict=True)
            }
            summary = await ib.accountSummaryAsync()
            positions = ib.positions()
            [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
            no_account = ib.placeOrder(spy, MarketOrder("BUY", 1))
            await wait_until(lambda: (no_account.order.orderId, 436) in errors, 3)
            order = MarketOrder("BUY", 5)
            order.account = accounts[1]
            trade = ib.placeOrder(spy, order)
            await wait_until(lambda: trade.isDone() and trade.fills, 5)
            await ib.reqAccountUpdatesAsync(accounts[1])
            after = check_consistency(ib, accounts[1], "EUR")
            first_after = values(ib, accounts[0])
            mine = await ib.reqExecutionsAsync(ExecutionFilter(acctCode=accounts[1]))
            others = await ib.reqExecutionsAsync(ExecutionFilter(acctCode=accounts[0]))
            assert [f.execution.execId for f in mine] == [trade.fills[0].execution.execId]
            assert others == []
            pnls = [ib.reqPnL(acc) for acc in accounts]
            await wait_until(lambda: all(not math.isnan(p.dailyPnL) for p in pnls), 3)
            ib.disconnect()
            return (
                accounts,
                checked,
                summary,
                positions,
                no_account,
                errors,
                trade,
                after,
                (
                    first_after,
                    pnls,
                ),
            )

        accounts, checked, summary, positions, no_acc, errors, trade, after, rest = run(scenario())
    finally:
        gw.stop()
    first_after, pnls = rest
    assert len(accounts) == 3
    nlv = {v.account: v.currency for v in summary if v.tag == "NetLiquidation"}
    assert nlv == dict(zip(accounts, ("USD", "EUR", "USD"), strict=True))
    held = {(p.account, p.contract.symbol) for p in positions}
    assert (accounts[0], "JPM") in held and (accounts[1], "JPM") not in held
    assert (accounts[2], "ES") in held and (accounts[1], "SAP") in held
    assert (no_acc.order.orderId, 436) in errors and not no_acc.fills
    [fill] = trade.fills
    assert fill.execution.acctNumber == accounts[1]
    usd_cost = 5 * fill.execution.price + fill.commissionReport.commission
    assert num(after, "CashBalance", "USD") == pytest.approx(
        num(checked[accounts[1]], "CashBalance", "USD") - usd_cost, abs=0.01
    )
    assert first_after["CashBalance", "USD"] == checked[accounts[0]]["CashBalance", "USD"]
    assert len({round(p.unrealizedPnL, 2) for p in pnls}) == 3


def test_official_ibapi_client_reads_the_multi_asset_account(multi):
    """IBKR's own decoder (ibapi 9.81, server version 157) reads derivatives' contract
    details, portfolio rows with expiry/strike/multiplier, and model greeks (tick 13)."""
    base = official_app_class()
    from ibapi.contract import Contract as IbContract

    class App(base):
        def __init__(self) -> None:
            super().__init__()
            self.details: list = []
            self.details_done = False
            self.portfolio: dict[str, tuple] = {}
            self.download_done = False
            self.greeks: dict[int, tuple] = {}

        def contractDetails(self, reqId, contractDetails) -> None:
            self.details.append(contractDetails)

        def contractDetailsEnd(self, reqId) -> None:
            self.details_done = True

        def updatePortfolio(self, contract, position, marketPrice, marketValue, *rest) -> None:
            self.portfolio[contract.localSymbol] = (contract, position, marketValue, rest[0])

        def accountDownloadEnd(self, accountName) -> None:
            self.download_done = True

        def tickOptionComputation(self, reqId, tickType, *values) -> None:
            self.greeks[tickType] = values

    def wait(check, seconds: float = 5.0) -> bool:
        deadline = time.monotonic() + seconds
        while not check() and time.monotonic() < deadline:
            time.sleep(0.02)
        return check()

    with official_session(App(), multi, client_id=32) as app:
        assert wait(lambda: app.next_id is not None)
        assert app.serverVersion() == 157
        es = IbContract()
        es.symbol = "ES"
        app.reqContractDetails(1, es)
        assert wait(lambda: app.details_done)
        app.reqAccountUpdates(True, multi.account_id)
        assert wait(lambda: app.download_done)
        opt = IbContract()
        opt.secType, opt.localSymbol, opt.exchange = "OPT", CALL, "SMART"
        app.reqMktData(2, opt, "", False, False, [])
        assert wait(lambda: 13 in app.greeks)
    kinds = {d.contract.secType: d for d in app.details}
    assert set(kinds) == {"STK", "FUT", "FOP"}
    assert kinds["FUT"].contract.multiplier == "50" and kinds["FUT"].contractMonth == "202612"
    assert kinds["FOP"].contract.strike == 7000 and kinds["FOP"].underConId > 0
    contract, position, value, avg_cost = app.portfolio[CALL]
    assert value == pytest.approx(position * 100 * multi.quote(CALL).mid)
    assert (contract.right, contract.multiplier, position) == ("C", "100", 5)
    assert avg_cost == pytest.approx(1520.65)
    _attrib, implied_vol, delta, opt_price, *_ = app.greeks[13]  # 9.81 passes tickAttrib
    assert implied_vol == pytest.approx(0.27) and 0 < delta < 1 and opt_price > 0
    assert not [code for code in app.errors if code < 2100]


def test_command_line_profile_option_starts_that_world():
    with simulator_cli("--profile", "advisor") as (port, banner):
        accounts = run(managed_accounts(port, timeout=5))
    assert "profile advisor" in banner
    assert accounts == ["DU1234567", "DU1234568", "DU1234569"]


def test_exchange_rates_move_and_the_books_follow_them():
    gw = start(
        "multi-asset", SimConfig(tick_interval=0.05, account_update_interval=0.5, pnl_interval=9)
    )
    try:

        async def scenario():
            ib = await connected(gw)
            account = ib.managedAccounts()[0]
            first = values(ib, account)["ExchangeRate", "EUR"]
            moved = await wait_until(
                lambda: values(ib, account)["ExchangeRate", "EUR"] != first, 10
            )
            gw.close_market()  # freeze, so every refresh from now on is the same snapshot
            await asyncio.sleep(1.5)
            vals = check_consistency(ib, account, "USD")
            ib.disconnect()
            return first, moved, vals

        first, moved, vals = run(scenario())
    finally:
        gw.stop()
    assert moved and vals["ExchangeRate", "EUR"] != first


@pytest.mark.parametrize("profile", ["multi-asset", "eur-base", "advisor"])
def test_every_holding_costs_about_what_it_is_worth_per_unit(profile):
    """averageCost is per contract (multiplier in), as TWS sends it: a seeded cost far
    from the unit value would show the user a P&L no real book has (e.g. a total cost
    entered as a per-contract one)."""
    gw = start(profile)
    try:

        async def scenario():
            ib = await connected(gw)
            items = []
            for account in ib.managedAccounts():
                await ib.reqAccountUpdatesAsync(account)
                items += ib.portfolio(account)
            ib.disconnect()
            return items

        items = run(scenario())
    finally:
        gw.stop()
    assert items
    for item in (i for i in items if i.contract.secType not in ("OPT", "FOP")):  # may decay
        ratio = item.averageCost / abs(item.marketValue / item.position)
        assert 1 / 1.8 < ratio < 1.8, item.contract.localSymbol  # gains, not a x2 mix-up
