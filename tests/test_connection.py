"""IBKRConnection: offline failure modes, then real ib_async against the simulated gateway."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ibkr_core.account import (
    get_account_summary,
    get_pnl,
    get_positions,
    subscribe_pnl,
    summarize_account_values,
)
from ibkr_core.connection import ConnectionState, IBKRConnection, normalize_symbol
from ibkr_core.connection_errors import (
    NotConnectedError,
    UnknownSymbolError,
    account_is_paper,
    connect_failure_message,
    describe_error,
    paper_mismatch_warning,
    parse_farm_notice,
    port_kind,
    reset_port,
)
from ibkr_core.contracts import create_contract
from ibkr_core.ibkr_market_data import get_market_data, market_data
from ibkr_core.settings import Settings
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.timeout(30)


# ------------------------------------------------------------------ plain messages
def test_port_kind_and_paper_detection():
    assert port_kind(7497) == "TWS paper"
    assert port_kind(4001) == "IB Gateway live"
    assert port_kind(12345) is None
    assert account_is_paper(["DU1234567"]) is True
    assert account_is_paper(["DF42"]) is True
    assert account_is_paper(["U7654321"]) is False
    assert account_is_paper([]) is None


def test_paper_port_with_live_account_warns():
    assert "LIVE" in paper_mismatch_warning(7497, ["U123"])
    assert "paper account" in paper_mismatch_warning(4001, ["DU123"])
    assert paper_mismatch_warning(7497, ["DU123"]) is None
    assert paper_mismatch_warning(5555, ["U123"]) is None


def test_connect_failure_messages_are_plain():
    refused = connect_failure_message(ConnectionRefusedError(111, "x"), "h", 7497, 1, 4)
    assert "is TWS / IB Gateway running with the API enabled on port 7497?" in refused
    timeout = connect_failure_message(TimeoutError(), "h", 4002, 1, 4)
    assert "TWS may be waiting for you to accept the connection" in timeout
    sync = connect_failure_message(TimeoutError(), "h", 4002, 1, 4, handshake_done=True)
    assert "initial account data" in sync
    assert "Traceback" not in refused + timeout


def test_describe_error_and_notices():
    assert "Client id already in use" in describe_error(326, "x")
    assert "pacing" in describe_error(
        162,
        "Historical Market Data Service error message:API "
        "historical data query cancelled: pacing violation",
    )
    assert describe_error(99999, "odd") == "IBKR error 99999: odd"
    assert parse_farm_notice(2104, "Market data farm connection is OK:usfarm") == ("usfarm", "OK")
    assert parse_farm_notice(2103, "Market data farm connection is broken:usfarm") == (
        "usfarm",
        "broken",
    )
    assert parse_farm_notice(
        2108, "Market data farm connection is inactive but should be available upon demand.usfarm"
    ) == ("usfarm", "inactive")
    assert parse_farm_notice(200, "x") is None
    assert reset_port("... Please reconnect on the new port - 7498") == 7498


def test_normalize_symbol():
    assert normalize_symbol(" aapl ") == "AAPL"
    assert normalize_symbol("BRK.B") == "BRK B"
    assert normalize_symbol("") == ""


def test_summarize_account_values_prefers_base_rows():
    from ib_async import AccountValue

    rows = [
        AccountValue("DU1", "NetLiquidation", "100000.5", "USD", ""),
        AccountValue("DU1", "AccountType", "INDIVIDUAL", "", ""),
        AccountValue("DU1", "CashBalance", "10", "EUR", ""),
        AccountValue("DU1", "CashBalance", "50", "BASE", ""),
        AccountValue("DU1", "CashBalance", "40", "USD", ""),
    ]
    out = summarize_account_values(rows)
    assert out["DU1"]["NetLiquidation"] == 100000.5
    assert out["DU1"]["currency"] == "USD"
    assert out["DU1"]["AccountType"] == "INDIVIDUAL"
    assert out["DU1"]["CashBalance"] == 50.0


# ------------------------------------------------------------------ offline failures
@pytest.fixture
def offline(loop_thread):
    conn = IBKRConnection(Settings(connect_timeout=1.0, request_timeout=1.0), loop_thread)
    yield conn
    conn.close()


@pytest.mark.timeout(10)
def test_refused_on_a_closed_port(offline):
    port = free_port()
    started = time.monotonic()
    status = offline.connect("127.0.0.1", port, 1, timeout=2)
    assert time.monotonic() - started < 2
    assert status.state == ConnectionState.DISCONNECTED
    assert f"API enabled on port {port}?" in status.last_error
    assert offline.status() == status


@pytest.mark.timeout(10)
def test_timeout_against_a_silent_socket(offline):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])  # accept and never answer
            except OSError:
                continue

    t = threading.Thread(target=accept_forever, daemon=True)
    t.start()
    try:
        started = time.monotonic()
        status = offline.connect("127.0.0.1", server.getsockname()[1], 1, timeout=0.8)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        t.join(2)
        for s in accepted:
            s.close()
        server.close()
    assert status.state == ConnectionState.DISCONNECTED
    assert "TWS may be waiting for you to accept the connection" in status.last_error
    assert elapsed < 2.5
    assert not offline.ib.isConnected()


def test_requests_while_disconnected_raise_not_connected(offline):
    with pytest.raises(NotConnectedError):
        get_account_summary(offline, timeout=1)
    with pytest.raises(NotConnectedError):
        offline.run(lambda ib: ib.positions(), timeout=1)


def test_ib_lives_on_the_loop_thread(offline, loop_thread):
    # the IB instance is created on the loop thread; its events fire there too
    assert loop_thread.call(lambda: offline.ib.client.conn is not None)


# ------------------------------------------------------------------ simulated gateway
def test_connect_status_accounts_paper(gateway, connection_settings, loop_thread):
    conn = IBKRConnection(connection_settings, loop_thread)
    events: list[str] = []
    conn.connected_event += lambda st: events.append("connected")
    try:
        started = time.monotonic()
        status = conn.connect()
        elapsed = time.monotonic() - started
        print(f"\nconnect time: {elapsed * 1000:.1f} ms")
        assert status.connected, status.last_error
        assert status.state == ConnectionState.CONNECTED
        assert status.accounts == (gateway.account_id,)
        assert status.is_paper is True
        assert status.client_id == 7 == status.requested_client_id
        assert status.server_version >= 157
        assert status.connected_since is not None
        assert status.connectivity == "ok" and not status.degraded
        assert status.farms.get("usfarm") == "OK"
        assert status.port_kind is None  # a random port: no hint
        assert status.warnings == ()
        assert events == ["connected"]
        # connecting again to the same target is a no-op
        assert conn.connect().connected_since == status.connected_since
    finally:
        conn.close()


def test_disconnect_stays_disconnected(gateway, connection):
    events: list[tuple] = []
    connection.disconnected_event += lambda st, deliberate: events.append(("down", deliberate))
    connection.reconnecting_event += lambda st: events.append(("reconnecting",))
    status = connection.disconnect()
    assert status.state == ConnectionState.DISCONNECTED
    assert status.last_error is None
    time.sleep(0.8)  # longer than the reconnect back-off
    assert connection.status().state == ConnectionState.DISCONNECTED
    assert not connection.ib.isConnected()
    assert wait_for(lambda: gateway.client_count() == 0, 2)
    assert events == [("down", True)]


def test_client_id_in_use_moves_to_the_next_id(
    gateway, connection, connection_settings, loop_thread
):
    second = IBKRConnection(connection_settings, loop_thread)
    try:
        started = time.monotonic()
        status = second.connect()
        print(f"\nconnect with one 326 retry: {(time.monotonic() - started) * 1000:.1f} ms")
        assert status.connected, status.last_error
        assert status.requested_client_id == 7
        assert status.client_id == 8
        assert any("Client id 7 was in use" in w for w in status.warnings)
    finally:
        second.close()


def test_all_client_ids_in_use_says_so(gateway, connection_settings, loop_thread):
    conns = [IBKRConnection(connection_settings, loop_thread) for _ in range(5)]
    try:
        for conn in conns[:4]:
            assert conn.connect().connected
        assert [c.status().client_id for c in conns[:4]] == [7, 8, 9, 10]
        status = conns[4].connect()
        assert status.state == ConnectionState.DISCONNECTED
        assert "Client ids 7..10 are all in use" in status.last_error
    finally:
        for conn in conns:
            conn.close()


def test_drop_reconnects_and_quotes_flow_again(gateway, connection):
    from ibkr_core.ibkr_market_data import IBKRQuoteProvider

    provider = IBKRQuoteProvider(connection)
    symbols = ["AAPL", "MSFT", "TSLA"]
    subscribe_pnl(connection)

    def all_flowing(after: float) -> bool:
        quotes = provider.fetch(symbols)
        return all(
            q.ok and q.provider_time is not None and q.provider_time.timestamp() > after
            for q in quotes.values()
        )

    assert wait_for(lambda: all_flowing(0), 5)
    assert provider.fetch(["TSLA"])["TSLA"].source == "ibkr-delayed"
    states: list[str] = []
    connection.status_changed += lambda st: states.append(st.state)
    reconnected: list = []
    connection.reconnected_event += reconnected.append
    first_id = connection.status().client_id

    dropped = time.time()
    gateway.drop_all_clients()
    assert wait_for(lambda: all_flowing(dropped), 10), provider.fetch(symbols)
    flowing = time.time() - dropped
    print(f"\ndrop -> quotes flowing again: {flowing * 1000:.0f} ms")
    status = connection.status()
    assert status.connected
    assert ConnectionState.RECONNECTING in states
    assert len(reconnected) == 1
    assert status.client_id in (first_id, first_id + 1)
    assert status.market_data_type == 4  # re-applied for the not-entitled symbol
    assert provider.fetch(["TSLA"])["TSLA"].source == "ibkr-delayed"
    assert wait_for(
        lambda: get_pnl(connection).get(gateway.account_id, {}).get("unrealized_pnl") is not None,
        5,
    )
    # account data came back too (ib_async re-requests account updates on connect)
    assert get_positions(connection)


def test_gateway_down_reconnects_with_backoff(gateway, connection):
    gateway.refuse_connections(1.5)
    assert wait_for(lambda: connection.status().state == ConnectionState.RECONNECTING, 2)
    assert wait_for(lambda: connection.status().reconnect_attempts >= 2, 3)
    status = connection.status()
    assert "Reconnect attempt" in (status.last_error or "")
    assert "API enabled" in status.last_error  # the refused message
    assert wait_for(lambda: connection.status().connected, 10)
    assert connection.status().reconnect_attempts == 0
    assert get_account_summary(connection)


def test_disconnect_during_reconnect_stops_it(gateway, connection):
    gateway.refuse_connections(1.2)
    assert wait_for(lambda: connection.status().state == ConnectionState.RECONNECTING, 2)
    connection.disconnect()
    time.sleep(1.8)  # the gateway is back: nothing may reconnect
    assert connection.status().state == ConnectionState.DISCONNECTED
    assert gateway.client_count() == 0


def test_connectivity_1100_degraded_then_1102_keeps_lines(gateway, connection):
    registry = market_data(connection)
    assert get_market_data(connection, "AAPL")["last"] is not None
    before = registry.resubscribed
    gateway.emit_connectivity(1100)
    assert wait_for(lambda: connection.status().degraded, 2)
    assert connection.status().connected  # the socket is still up
    assert wait_for(lambda: connection.status().farms.get("usfarm") != "OK", 2)
    gateway.emit_connectivity(1102)
    assert wait_for(lambda: connection.status().connectivity == "ok", 2)
    assert registry.resubscribed == before  # 1102: data maintained, nothing resubscribed


def test_connectivity_1101_resubscribes(gateway, connection):
    from ibkr_core.ibkr_market_data import IBKRQuoteProvider

    provider = IBKRQuoteProvider(connection)
    assert wait_for(lambda: provider.fetch(["AAPL", "MSFT"])["MSFT"].ok, 5)
    registry = market_data(connection)
    before = registry.resubscribed
    gateway.emit_connectivity(1100)
    assert wait_for(lambda: connection.status().degraded, 2)
    restored = time.time()
    gateway.emit_connectivity(1101)
    assert wait_for(lambda: connection.status().connectivity == "ok", 2)
    assert wait_for(lambda: registry.resubscribed >= before + 2, 2)

    def fresh() -> bool:
        q = provider.fetch(["AAPL", "MSFT"])
        return all(x.ok and x.provider_time.timestamp() > restored + 0.05 for x in q.values())

    assert wait_for(fresh, 5)


def test_seed_methods(gateway, connection):
    summary = get_account_summary(connection)
    acct = summary[gateway.account_id]
    for tag in ("NetLiquidation", "TotalCashValue", "BuyingPower"):
        assert isinstance(acct[tag], float)
    assert acct["currency"] == "USD"

    positions = get_positions(connection)
    assert positions
    row = positions[0]
    assert set(row) >= {
        "symbol",
        "quantity",
        "avg_cost",
        "market_price",
        "market_value",
        "unrealized_pnl",
        "realized_pnl",
    }
    assert all(isinstance(p["quantity"], float) for p in positions)

    contract = create_contract(connection, "aapl")
    assert contract.conId and contract.symbol == "AAPL" and contract.secType == "STK"

    data = get_market_data(connection, "AAPL")
    assert set(data) == {"last", "bid", "ask", "volume", "high", "low"}
    assert data["last"] > 0 and data["bid"] > 0
    assert get_market_data(connection, contract)["last"] is not None

    with pytest.raises(UnknownSymbolError, match="ZZZZ"):
        create_contract(connection, "ZZZZ")
    with pytest.raises(UnknownSymbolError):
        get_market_data(connection, "ZZZZ")


def test_run_gives_colleagues_the_ib_instance(connection, loop_thread):
    assert connection.run(lambda ib: threading.current_thread() is loop_thread.thread)
    assert connection.run(lambda ib: ib.reqCurrentTimeAsync(), timeout=3) is not None

    async def slow():
        import asyncio

        await asyncio.sleep(5)

    with pytest.raises(TimeoutError):
        connection.run(slow(), timeout=0.2)


def test_slow_gateway_times_out_with_a_plain_message(gateway, connection_settings, loop_thread):
    gateway.set_response_delay(3.0)
    conn = IBKRConnection(connection_settings, loop_thread)
    try:
        started = time.monotonic()
        status = conn.connect(timeout=0.5)
        assert time.monotonic() - started < 2.5
        assert status.state == ConnectionState.DISCONNECTED
        assert "within 0.5 s" in status.last_error
    finally:
        gateway.set_response_delay(0)
        conn.close()
