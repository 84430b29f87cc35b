"""Shared fixtures: repo root on sys.path, a simulated gateway, a connected manager.

Others may append fixtures below; keep the ones here stable.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):
    """Poll ``predicate`` until it returns something truthy (returned) or time is up
    (then its last value is returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def free_port() -> int:
    """A localhost TCP port nobody listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def loop_thread():
    """The process-wide IBKR loop thread (ib_async lives there)."""
    from ibkr_core.loop_thread import get_loop_thread

    return get_loop_thread()


@pytest.fixture
def gateway_config():
    """Override in a test module to configure the simulated gateway."""
    from ibkr_core.simulator import SimConfig

    return SimConfig(
        not_entitled=frozenset({"TSLA"}),
        delayed_only=frozenset({"NFLX"}),
        tick_interval=0.1,
    )


@pytest.fixture
def gateway(gateway_config) -> Iterator:
    """A simulated IB Gateway on 127.0.0.1 (own thread), stopped after the test."""
    simulator = pytest.importorskip("ibkr_core.simulator")
    gw = simulator.start_in_background(seed=1, port=0, config=gateway_config)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def connection_settings(gateway):
    from ibkr_core.settings import Settings

    return Settings(
        host=gateway.host,
        port=gateway.port,
        client_id=7,
        connect_timeout=4.0,
        request_timeout=4.0,
    )


@pytest.fixture
def connection(connection_settings, loop_thread) -> Iterator:
    """An `IBKRConnection` connected to the `gateway` fixture, closed after the test."""
    from ibkr_core.connection import IBKRConnection

    conn = IBKRConnection(connection_settings, loop_thread, reconnect_initial_delay=0.1)
    status = conn.connect()
    assert status.connected, status.last_error
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def orders(connection) -> Iterator:
    """An `OrderService` on the `connection` fixture, with its settings, closed after."""
    from ibkr_core.orders import OrderService

    service = OrderService(connection, connection.settings)
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def portfolio(connection) -> Iterator:
    """A `PortfolioService` on the `connection` fixture, closed after the test."""
    from ibkr_core.portfolio import PortfolioService

    service = PortfolioService(connection)
    try:
        yield service
    finally:
        service.close()
