"""``/api/live``'s portfolio topic sends only what changed (ibkr_core/web/live_topics.py),
on the simulator's multi-asset account with the real ib_async: a still market sends
nothing, one price move sends that position (and the cards it moves), not the rest."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def gateway_config():
    from ibkr_core.simulator import SimConfig

    return SimConfig(profile="multi-asset", tick_interval=3600.0, pnl_interval=0.25)


def settled(portfolio):
    """The view once every position has its live price (P&L single in)."""
    assert wait_for(lambda: all(r.market_price is not None for r in portfolio.view(None).rows), 10)
    return portfolio.view(None)


def test_first_message_has_everything_then_only_what_moved(gateway, portfolio):
    from ibkr_core.web.live_topics import PortfolioTopic

    topic = PortfolioTopic(account=None)
    view = settled(portfolio)
    first = topic.diff(view)
    assert first["reset"] and first["base"] == "USD" and len(first["cards"]) == 6
    assert len(first["positions"]) == len(view.rows) == len(first["order"])
    assert {c["currency"] for c in first["cash"].values()} == {"USD", "EUR", "JPY", "HKD"}
    assert first["cash_total"].startswith("Total cash")
    assert topic.diff(portfolio.view(None)) is None  # a still market: nothing to send

    aapl = next(r for r in view.rows if r.symbol == "AAPL" and r.sec_type == "STK")
    gateway.set_price("AAPL", round(aapl.market_price + 5.0, 2))

    def moved():
        part = topic.diff(portfolio.view(None))
        return part if part and "positions" in part else None

    part = wait_for(moved, 10)
    assert part, "the AAPL move never reached the topic"
    instruments = {c["instrument"] for c in part["positions"].values()}
    assert "AAPL · NASDAQ · USD" in instruments
    assert "SAP · IBIS · EUR" not in instruments and "ES DEC 26" not in instruments
    assert "reset" not in part and "order" not in part and "cash" not in part
