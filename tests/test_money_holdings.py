"""The portfolio arithmetic on a multi-currency, multi-asset account as TWS sends it.

Every expected figure below is IBKR's own (the fixture's account values and portfolio
updates) or that figure converted with the fixture's ExchangeRate rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ibkr_core.holdings import build_rows, build_summary, combine
from ibkr_core.money import account_books
from tests import tws_accounts as tws

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def usd_view(rates=None, singles=None, pnl=None):
    positions, items = tws.holdings(tws.USD_ACCOUNT, tws.USD_HOLDINGS)
    books = account_books(tws.usd_account_values(rates))
    rows = build_rows(positions, items, singles or {}, books)
    summary, weighted = build_summary(books[tws.USD_ACCOUNT], rows, items, singles or {}, pnl, NOW)
    return summary, {r.description: r for r in weighted}


def test_foreign_holdings_keep_their_currency_and_weigh_in_base():
    summary, rows = usd_view()
    hk = rows["700 · SEHK · HKD"]
    assert hk.currency == "HKD" and hk.market_value == 400000.0
    assert hk.unrealized_pnl == 50000.0 and hk.avg_price == 350.0
    assert hk.market_value_base == pytest.approx(51400.0)
    assert hk.weight_pct == pytest.approx(51400.0 / tws.USD_NLV * 100)
    assert hk.weight_pct < 25  # not 160%
    sap = rows["SAP · IBIS · EUR"]
    assert sap.currency == "EUR" and sap.market_value == 10000.0
    assert sap.market_value_base == pytest.approx(10850.0)
    assert sap.exchange == "IBIS"  # from the portfolio update's primaryExchange
    assert summary.currency == "USD"
    assert summary.net_liquidation == pytest.approx(tws.USD_NLV)
    assert summary.positions_value == pytest.approx(tws.USD_SECURITIES_BASE)
    assert summary.positions_value < summary.net_liquidation
    assert summary.unconverted == ()
    # securities' P&L over their cost, both in base (not mixed with ES or EUR.USD)
    pnl = 7825.0 + 179.0 + 1000.0 * 1.085 + 50000.0 * 0.1285 - 15.0 + 5000.0
    cost = 15025.0 + 1041.0 + 9000.0 * 1.085 + 350000.0 * 0.1285 + 9865.0 + 25000.0
    assert summary.securities_pnl_pct == pytest.approx(pnl / cost * 100)


def test_a_future_counts_by_its_pnl_with_notional_as_exposure():
    summary, rows = usd_view()
    es = rows["ES DEC 25"]
    assert es.market_value is None and es.weight_pct is None
    assert es.notional == 252500.0 and es.notional_base == 252500.0
    assert es.unrealized_pnl == 2500.0
    assert es.avg_price == 5000.0 and es.market_price == 5050.0
    assert summary.futures_exposure == 252500.0
    assert summary.positions_value == pytest.approx(tws.USD_SECURITIES_BASE)  # without ES


def test_bond_at_ibkr_market_value_and_option_avg_price_per_unit():
    _summary, rows = usd_view()
    bond = rows["UST 4.25% 2034"]
    assert bond.market_value == 9850.0 and bond.unrealized_pnl == -15.0
    assert bond.market_price == 98.5 and bond.avg_price == pytest.approx(98.65)
    call = rows["AAPL 17 JAN 25 200 Call"]
    assert call.avg_cost == 520.5 and call.avg_price == pytest.approx(5.205)
    assert call.market_price == 6.10 and call.market_value == 1220.0
    assert call.unrealized_pnl_pct == pytest.approx(179.0 / 1041.0 * 100)  # not -99%
    assert call.multiplier == 100.0 and call.asset_class == "Options"


def test_fx_position_is_cash_counted_once():
    summary, rows = usd_view()
    fx = rows["EUR.USD"]
    assert fx.in_cash and fx.weight_pct is None and fx.asset_class == "FX"
    cash = {line.currency: line for line in summary.cash}
    assert cash["EUR"].balance == 20000.0 and cash["EUR"].base_value == pytest.approx(21700.0)
    assert summary.total_cash == pytest.approx(tws.USD_CASH_BASE)
    # cash + positions + futures P&L = IBKR's net liquidation: nothing counted twice
    assert summary.total_cash + summary.positions_value + tws.USD_FUTURES_PNL == pytest.approx(
        summary.net_liquidation
    )


def test_missing_rate_makes_the_figure_unknown_not_summed_raw():
    rates = {k: v for k, v in tws.USD_RATES.items() if k != "HKD"}
    summary, rows = usd_view(rates)
    hk = rows["700 · SEHK · HKD"]
    assert hk.market_value == 400000.0  # still shown in its own currency
    assert hk.market_value_base is None and hk.weight_pct is None
    assert summary.positions_value is None
    assert summary.unconverted == ("HKD",)
    assert summary.net_liquidation == pytest.approx(tws.USD_NLV)  # IBKR's own figure


def test_live_pnl_single_moves_values_and_net_liquidation_in_base():
    # 700 moves from 400 to 410 HKD: reqPnLSingle reports in the account's base (USD):
    # value 410,000 HKD x 0.1285, unrealized 60,000 HKD x 0.1285, today 10,000 HKD x 0.1285
    singles = {
        (tws.USD_ACCOUNT, tws.TENCENT.conId): tws.single(
            tws.USD_ACCOUNT, tws.TENCENT.conId, 1000.0, 52685.0, 7710.0, daily=1285.0
        )
    }
    pnl = tws.account_pnl(tws.USD_ACCOUNT, daily=1285.0, unrealized=70000.0)
    summary, rows = usd_view(singles=singles, pnl=pnl)
    hk = rows["700 · SEHK · HKD"]
    assert hk.market_value_base == 52685.0 and hk.unrealized_pnl_base == 7710.0  # live
    # in HKD: the window's own figures (not back-converted with a possibly older rate)
    assert hk.market_price == 400.0 and hk.market_value == 400000.0
    assert hk.daily_pnl == pytest.approx(10000.0) and hk.daily_pnl_base == 1285.0
    assert summary.net_liquidation == pytest.approx(tws.USD_NLV + 10000.0 * 0.1285)
    assert summary.daily_pnl == 1285.0  # reqPnL, already in base
    before = summary.net_liquidation - 1285.0  # yesterday's close
    assert summary.daily_pnl_pct == pytest.approx(1285.0 / before * 100)


def test_live_base_currency_rows_follow_pnl_single():
    singles = {
        (tws.USD_ACCOUNT, tws.AAPL.conId): tws.single(
            tws.USD_ACCOUNT, tws.AAPL.conId, 100.0, 23000.0, 7975.0, daily=150.0
        )
    }
    _summary, rows = usd_view(singles=singles)
    aapl = rows["AAPL · NASDAQ · USD"]
    assert aapl.market_price == 230.0 and aapl.market_value == 23000.0
    assert aapl.unrealized_pnl == 7975.0 and aapl.daily_pnl == 150.0


def test_live_base_figures_stand_without_a_rate_local_ones_from_the_window():
    rates = {k: v for k, v in tws.USD_RATES.items() if k != "HKD"}
    singles = {
        (tws.USD_ACCOUNT, tws.TENCENT.conId): tws.single(
            tws.USD_ACCOUNT, tws.TENCENT.conId, 1000.0, 52685.0, 7710.0, daily=1285.0
        )
    }
    _summary, rows = usd_view(rates, singles=singles)
    hk = rows["700 · SEHK · HKD"]
    assert hk.market_value_base == 52685.0  # IBKR's own base figure
    assert hk.market_value == 400000.0  # the window's, not a conversion without a rate


def test_stale_pnl_single_quantity_is_not_used():
    singles = {
        (tws.USD_ACCOUNT, tws.AAPL.conId): tws.single(
            tws.USD_ACCOUNT, tws.AAPL.conId, 90.0, 99999.0, 1.0
        )
    }
    _summary, rows = usd_view(singles=singles)
    assert rows["AAPL · NASDAQ · USD"].market_value == 22850.0  # the window's, for 100


def eur_account():
    rows = [(tws.SAP, 100.0, 200.0, 20000.0, 190.0, 1000.0)]
    positions, items = tws.holdings(tws.EUR_ACCOUNT, rows)
    values = tws.account_values(
        tws.EUR_ACCOUNT, "EUR", {"EUR": "1.00", "USD": "0.9217"}, {"EUR": 30000.0},
        nlv=50000.0, cash_base=30000.0,
    )  # fmt: skip
    return positions, items, values


def two_accounts(eur_rates_usd: bool = True):
    usd_pos, usd_items = tws.holdings(tws.USD_ACCOUNT, tws.USD_HOLDINGS[:1])  # AAPL only
    usd_values = tws.account_values(
        tws.USD_ACCOUNT, "USD", {"USD": "1.00"}, {"USD": 77150.0}, nlv=100000.0,
        cash_base=77150.0,
    )  # fmt: skip
    eur_pos, eur_items, eur_values = eur_account()
    if not eur_rates_usd:
        eur_values = [
            v for v in eur_values if not (v.tag == "ExchangeRate" and v.currency == "USD")
        ]
    books = account_books(usd_values, eur_values)
    items = {**usd_items, **eur_items}
    rows = build_rows(usd_pos + eur_pos, items, {}, books)
    per = {}
    for account in (tws.USD_ACCOUNT, tws.EUR_ACCOUNT):
        per[account], _ = build_summary(books[account], rows, items, {}, None, NOW)
    return per, books, rows


def test_each_account_in_its_own_base_currency():
    per, _books, _rows = two_accounts()
    assert per[tws.USD_ACCOUNT].currency == "USD"
    assert per[tws.USD_ACCOUNT].net_liquidation == 100000.0
    assert per[tws.EUR_ACCOUNT].currency == "EUR"
    assert per[tws.EUR_ACCOUNT].net_liquidation == 50000.0
    assert per[tws.EUR_ACCOUNT].positions_value == 20000.0


def test_all_accounts_convert_to_one_currency_or_say_mixed():
    per, books, rows = two_accounts()
    summary, all_rows = combine(per, books, rows, NOW)
    # one USD and one EUR account: the first account's base (USD); no USD account has
    # a EUR rate, so the EUR account's own USD rate (0.9217 EUR per USD) is inverted
    assert summary.currency == "USD" and summary.convertible
    assert summary.net_liquidation == pytest.approx(100000.0 + 50000.0 / 0.9217)
    sap = next(r for r in all_rows if r.symbol == "SAP")
    assert sap.market_value_base == pytest.approx(20000.0 / 0.9217)
    # an EUR-first login: the EUR account's own USD rate converts the USD account
    per_eur_first = {tws.EUR_ACCOUNT: per[tws.EUR_ACCOUNT], tws.USD_ACCOUNT: per[tws.USD_ACCOUNT]}
    summary, all_rows = combine(per_eur_first, books, rows, NOW)
    assert summary.currency == "EUR" and summary.convertible
    assert summary.net_liquidation == pytest.approx(50000.0 + 100000.0 * 0.9217)
    aapl = next(r for r in all_rows if r.symbol == "AAPL")
    assert aapl.market_value == 22850.0 and aapl.currency == "USD"
    assert aapl.market_value_base == pytest.approx(22850.0 * 0.9217)
    assert aapl.weight_pct == pytest.approx(22850.0 * 0.9217 / summary.net_liquidation * 100)
    per2, books2, rows2 = two_accounts(eur_rates_usd=False)
    summary = combine(
        {tws.EUR_ACCOUNT: per2[tws.EUR_ACCOUNT], tws.USD_ACCOUNT: per2[tws.USD_ACCOUNT]},
        books2, rows2, NOW,
    )[0]  # fmt: skip
    assert summary.currency == "MIXED" and summary.net_liquidation is None
    assert summary.positions_value is None  # never "150,000.00 MIXED"


def test_a_tws_reporting_pnl_single_in_the_contracts_currency_is_read_right():
    """IBKR's docs do not say which currency reqPnLSingle uses; the account's own
    figures tell (a foreign holding's value against its portfolio update's)."""
    from ibkr_core.holdings import pnl_single_in_base

    local = {  # 700 at 410 HKD, reported in HKD
        (tws.USD_ACCOUNT, tws.TENCENT.conId): tws.single(
            tws.USD_ACCOUNT, tws.TENCENT.conId, 1000.0, 410000.0, 60000.0, daily=10000.0
        )
    }
    base = {  # the same, in USD
        (tws.USD_ACCOUNT, tws.TENCENT.conId): tws.single(
            tws.USD_ACCOUNT, tws.TENCENT.conId, 1000.0, 52685.0, 7710.0, daily=1285.0
        )
    }
    _positions, items = tws.holdings(tws.USD_ACCOUNT, tws.USD_HOLDINGS)
    book = account_books(tws.usd_account_values())[tws.USD_ACCOUNT]
    assert pnl_single_in_base(tws.USD_ACCOUNT, items, base, book) is True
    assert pnl_single_in_base(tws.USD_ACCOUNT, items, local, book) is False
    for singles in (local, base):
        summary, rows = usd_view(singles=singles)
        hk = rows["700 · SEHK · HKD"]
        assert hk.market_value_base == pytest.approx(52685.0)
        assert hk.daily_pnl_base == pytest.approx(1285.0)
        assert summary.net_liquidation == pytest.approx(tws.USD_NLV + 1285.0)
