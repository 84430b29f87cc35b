"""Ticket rules without IBKR (pure): the messages a trader gets before any lookup."""

from __future__ import annotations

import pytest

from ibkr_core.order_ticket import OrderTicket, off_tick, short_warning, ticket_issues


def fields(ticket: OrderTicket) -> dict[str, str]:
    issues, _ = ticket_issues(ticket.normalized())
    return {i.field: i.message for i in issues}


@pytest.mark.parametrize(
    ("price", "words"),
    [
        (1e308, "The limit price 1e+308 is too large: at most 1,000,000."),
        (float("inf"), "The limit price inf is too large"),
        (float("nan"), "The limit price must be a number."),
        (None, "A limit order needs a limit price."),
        (-1.0, "must be greater than 0"),
    ],
)
def test_limit_price_messages(price, words):
    assert words in fields(OrderTicket("AAPL", "BUY", 1, "LMT", price))["limit_price"]


def test_a_good_ticket_has_no_issues_and_its_prices():
    issues, prices = ticket_issues(OrderTicket("AAPL", "SELL", 5, "STP LMT", 101.0, 100.0))
    assert issues == [] and prices == {"limit_price": 101.0, "stop_price": 100.0}


def test_short_warning_only_when_a_sell_exceeds_the_position():
    sell = OrderTicket("AAPL", "SELL", 300)
    assert "opens a short position of 200 shares" in short_warning(sell, 100.0)
    assert short_warning(OrderTicket("AAPL", "SELL", 100), 100.0) == ""
    assert short_warning(OrderTicket("AAPL", "BUY", 300), 0.0) == ""
    assert "already short 50" in short_warning(sell, -50.0)
    assert short_warning(sell, None) == ""


def test_off_tick_suggests_the_two_nearest_prices():
    assert off_tick(100.003, 0.01) == (100.0, 100.01)
    assert off_tick(100.01, 0.01) is None
