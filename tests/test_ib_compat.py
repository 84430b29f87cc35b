"""ib_async fixes (``ibkr_core/ib_compat.py``), proved over a real socket: a bond with a
fractional coupon gets its contract details, so the portfolio names it by its coupon."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import Contract

from ibkr_core.ib_compat import apply_ib_async_fixes, bond_coupon_fixed
from ibkr_core.simulator.assets import UST_2034
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def gateway_config():
    from ibkr_core.simulator import SimConfig

    return SimConfig(profile="multi-asset", tick_interval=3600.0)


def test_bond_contract_details_decode_with_their_fractional_coupon(connection):
    assert bond_coupon_fixed()  # the connection applied it
    ib = connection.ib
    found = connection.loop.call(
        lambda: asyncio.wait_for(ib.reqContractDetailsAsync(Contract(conId=UST_2034.con_id)), 5),
        timeout=10,
    )
    assert len(found) == 1
    details = found[0]
    assert details.coupon == pytest.approx(4.25) and isinstance(details.coupon, float)
    assert details.maturity == "20341115" and details.cusip == "91282CLW9"


def test_the_portfolio_names_the_bond_by_coupon_and_maturity(connection):
    from ibkr_core.portfolio import PortfolioService

    service = PortfolioService(connection)
    try:

        def bond_name() -> str | None:
            rows = [r for r in service.positions() if r.sec_type == "BOND"]
            return rows[0].description if rows else None

        assert wait_for(lambda: bond_name() == "UST 4.25% 2034", timeout=15), bond_name()
    finally:
        service.close()


def test_applying_twice_changes_nothing():
    apply_ib_async_fixes()
    apply_ib_async_fixes()
    assert bond_coupon_fixed()
