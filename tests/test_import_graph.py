"""ibkr_core's modules import each other without cycles (see tests/import_graph.py for
what counts: function-local imports do, ``if TYPE_CHECKING:`` ones don't)."""

from __future__ import annotations

from tests.import_graph import REPO, cycles, import_graph


def test_ibkr_core_has_no_import_cycles():
    graph = import_graph(REPO / "ibkr_core")
    assert "ibkr_core.ib_requests" in graph["ibkr_core.connection"]  # the graph is read
    assert cycles(graph) == []


def test_the_connection_builds_on_nothing_that_builds_on_it():
    graph = import_graph(REPO / "ibkr_core")
    above = {
        "ibkr_core.account",
        "ibkr_core.contracts",
        "ibkr_core.ibkr_market_data",
        "ibkr_core.orders",
        "ibkr_core.portfolio",
    }
    assert graph["ibkr_core.connection"] & above == set()
    # ... and each of them reaches IBKR's requests through the one request path
    assert all("ibkr_core.ib_requests" in graph[module] for module in above)
