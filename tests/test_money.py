"""An account's base currency, rates and cash, read from AccountValue rows as TWS sends."""

from __future__ import annotations

import pytest

from ibkr_core.money import account_books
from tests import tws_accounts as tws


def test_base_currency_rates_and_cash_come_from_the_accounts_own_rows():
    book = account_books(tws.usd_account_values())[tws.USD_ACCOUNT]
    assert book.base_currency == "USD"
    assert book.rate("EUR") == 1.085 and book.rate("HKD") == 0.1285 and book.rate("USD") == 1.0
    assert book.convert(10000.0, "EUR") == pytest.approx(10850.0)
    assert book.total("NetLiquidation") == pytest.approx(tws.USD_NLV)
    assert book.total_cash() == pytest.approx(tws.USD_CASH_BASE)
    cash = {line.currency: line for line in book.cash()}
    assert [line.currency for line in book.cash()] == ["USD", "EUR", "JPY"]  # base first
    assert cash["EUR"].balance == 20000.0 and cash["EUR"].base_value == pytest.approx(21700.0)
    assert cash["JPY"].balance == -1500000.0 and cash["JPY"].base_value == pytest.approx(-10050.0)
    assert sum(line.base_value for line in book.cash()) == pytest.approx(book.total_cash())


def test_a_currency_without_an_ibkr_rate_is_unknown_not_guessed():
    rates = {k: v for k, v in tws.USD_RATES.items() if k != "JPY"}
    book = account_books(tws.usd_account_values(rates))[tws.USD_ACCOUNT]
    assert book.rate("JPY") is None
    assert book.convert(1000.0, "JPY") is None
    jpy = next(line for line in book.cash() if line.currency == "JPY")
    assert jpy.balance == -1500000.0 and jpy.base_value is None
    assert book.convert(1.0, "CHF") is None  # never held, never a rate


def test_eur_base_account():
    rows = tws.account_values(
        tws.EUR_ACCOUNT, "EUR", {"EUR": "1.00", "USD": "0.9217"}, {"EUR": 40000.0, "USD": 5000.0},
        nlv=60000.0, cash_base=40000.0 + 4608.5,
    )  # fmt: skip
    book = account_books(rows)[tws.EUR_ACCOUNT]
    assert book.base_currency == "EUR"
    assert book.convert(100.0, "USD") == pytest.approx(92.17)
    assert book.total("NetLiquidation") == 60000.0


def test_window_rows_win_over_the_summary_and_model_rows_are_ignored():
    from ib_async import AccountValue

    window = tws.usd_account_values()
    summary = [
        AccountValue(tws.USD_ACCOUNT, "ExchangeRate", "9.99", "EUR", ""),
        AccountValue(tws.EUR_ACCOUNT, "NetLiquidation", "1000.00", "EUR", ""),
        AccountValue(tws.EUR_ACCOUNT, "ExchangeRate", "7.77", "USD", "MODEL1"),
    ]
    books = account_books(window, summary)
    assert books[tws.USD_ACCOUNT].rate("EUR") == 1.085
    assert books[tws.EUR_ACCOUNT].base_currency == "EUR"
    assert books[tws.EUR_ACCOUNT].rate("USD") is None
