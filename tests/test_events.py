"""ibkr_core/events.py: a subscriber on another asyncio loop (the web server's) receives
the core's events, handed over with call_soon_threadsafe, and nothing after it closed
its subscription. On the simulated gateway: a market order's fill is a portfolio change
(the position moves) and an order change."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ibkr_core.contracts import create_contract
from ibkr_core.events import CoreEvents, OrderChanged, PortfolioChanged, QuoteChanged, Topic
from ibkr_core.order_ticket import OrderTicket

pytestmark = pytest.mark.timeout(60)


class OtherLoop:
    """An asyncio loop on its own thread (like the web server's), recording deliveries."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.received: list[tuple[object, int | None]] = []
        self.changed = threading.Condition()

    def record(self, event: object) -> None:
        with self.changed:
            self.received.append((event, threading.get_ident()))
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.received), timeout)

    def flush(self) -> None:
        """Every hand-over queued so far has run."""
        done = threading.Event()
        self.loop.call_soon_threadsafe(done.set)
        assert done.wait(5)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def other_loop():
    loop = OtherLoop()
    try:
        yield loop
    finally:
        loop.close()


@pytest.fixture
def events(connection, orders):
    core = CoreEvents(connection, orders.book)
    try:
        yield core
    finally:
        core.close()


def test_a_fill_reaches_a_subscriber_on_another_loop_until_it_unsubscribes(
    gateway, connection, orders, events, other_loop
):
    portfolio = events.portfolio.subscribe(other_loop.record, loop=other_loop.loop)
    order_sub = events.orders.subscribe(other_loop.record, loop=other_loop.loop)
    record = orders.place(OrderTicket("AAPL", "BUY", 3), "events-fill-1")

    def filled(received) -> bool:
        kinds = {
            (type(e).__name__, getattr(e, "what", getattr(e, "kind", ""))) for e, _ in received
        }
        return ("PortfolioChanged", "positions") in kinds and ("OrderChanged", "fill") in kinds

    assert other_loop.wait_for(filled), other_loop.received
    # delivered on the other loop's thread, never on the IBKR loop thread
    assert {tid for _, tid in other_loop.received} == {other_loop.thread.ident}
    positions = [e for e, _ in other_loop.received if isinstance(e, PortfolioChanged)]
    account = connection.status().accounts[0]
    assert any(account in e.accounts for e in positions if e.what == "positions")
    fills = [e for e, _ in other_loop.received if isinstance(e, OrderChanged) and e.kind == "fill"]
    assert fills[0].order_id == record.order_id and fills[0].symbol == "AAPL"

    portfolio.close()
    order_sub.close()
    other_loop.flush()
    seen = len(other_loop.received)
    # the sale moves the position: a subscriber still open hears it, a closed one not
    witness = OtherLoop()
    try:
        events.portfolio.subscribe(witness.record, loop=witness.loop)
        orders.place(OrderTicket("AAPL", "SELL", 3), "events-fill-2")
        assert witness.wait_for(lambda r: any(e.what == "positions" for e, _ in r))
    finally:
        witness.close()
    other_loop.flush()
    assert len(other_loop.received) == seen
    assert len(events.orders) == 0


def test_quote_changed_names_the_ticking_symbols(gateway, connection, events, other_loop):
    events.quotes.subscribe(other_loop.record, loop=other_loop.loop)
    contract = create_contract(connection, "MSFT")
    connection.loop.call(lambda: connection.ib.reqMktData(contract), timeout=5)
    assert other_loop.wait_for(
        lambda r: any(isinstance(e, QuoteChanged) and "MSFT" in e.symbols for e, _ in r)
    )


def test_connection_status_is_the_connections_own_event(connection, events, other_loop):
    events.connection.subscribe(other_loop.record, loop=other_loop.loop)
    connection.disconnect()
    assert other_loop.wait_for(lambda r: any(not e.connected for e, _ in r))


def test_a_failing_subscriber_does_not_stop_the_others():
    topic: Topic[int] = Topic("t")
    got: list[int] = []

    def broken(_event: int) -> None:
        raise RuntimeError("boom")

    topic.subscribe(broken)
    topic.subscribe(got.append)
    topic.emit(1)
    assert got == [1]
