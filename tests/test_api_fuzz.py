"""Property-based fuzzing of every HTTP route from the app's own OpenAPI document
(schemathesis), against a connected simulated gateway: no input may cause a 5xx.

Bounded: a few examples per operation (positive and negative), a per-example deadline,
and a module timeout. ``POST /connect`` and ``POST /disconnect`` are not fuzzed: the one
could point the server anywhere, the other would turn every later answer into a
(correct) 503. Both are tested by hand in test_api.py. The fallback quote provider is a
fake, so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    negative_data_rejection,
    status_code_conformance,
)

from ibkr_core.api import create_app  # noqa: E402
from ibkr_core.providers.base import UNKNOWN_SYMBOL  # noqa: E402
from ibkr_core.quote import Quote, QuoteSource  # noqa: E402
from ibkr_core.quote_manager import QuoteManager  # noqa: E402
from ibkr_core.services import build_services  # noqa: E402
from ibkr_core.settings import Settings  # noqa: E402

pytestmark = pytest.mark.timeout(120)

MAX_EXAMPLES = 25
NOT_FUZZED = ["/api/trading/ibkr/connect", "/api/trading/ibkr/disconnect"]


class FakeYahoo:
    name = QuoteSource.YAHOO
    configured = True

    def fetch(self, symbols: list[str]) -> dict[str, Quote]:
        now = datetime.now(UTC)
        return {
            s: Quote(s, QuoteSource.YAHOO, last=100.0, provider_time=now)
            if s in ("AAPL", "MSFT")
            else Quote.failed(s, f"{UNKNOWN_SYMBOL} {s}", QuoteSource.YAHOO)
            for s in symbols
        }


@pytest.fixture(scope="module")
def fuzz_gateway() -> Iterator:
    from ibkr_core.simulator import start_in_background

    gw = start_in_background(seed=3, port=0)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_gateway, tmp_path_factory) -> Iterator:
    settings = Settings(
        host=fuzz_gateway.host,
        port=fuzz_gateway.port,
        client_id=21,
        connect_timeout=4.0,
        request_timeout=3.0,
        provider_timeout=2.0,
        watchlist_file=str(tmp_path_factory.mktemp("fuzz") / "watchlist.json"),
        allowed_hosts="localhost,127.0.0.1,::1,testserver",  # schemathesis' ASGI client
    )
    services = build_services(settings)
    services.quotes.close()
    services.quotes = QuoteManager([FakeYahoo()], settings, ibkr=services.ibkr)
    status = services.connect(settings.host, settings.port, settings.client_id + 100)
    assert status.connected, status.last_error
    real_connect = services.connection.connect

    def local_only(host=None, *args, **kwargs):  # a guard: fuzzing never connects anywhere
        assert host in (None, "127.0.0.1"), f"fuzzing tried to connect to {host!r}"
        return real_connect(host, *args, **kwargs)

    services.connection.connect = local_only
    try:
        yield create_app(services)
    finally:
        services.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20240601,
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=config)


# filters go on the lazy schema: pytest's fixture schema is re-filtered by it
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path=NOT_FUZZED)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=10_000,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_route_answers_5xx(case):
    response = case.call(timeout=15)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )
    # documented answers only, and malformed input is refused (4xx), never accepted
    case.validate_response(response, checks=[status_code_conformance, negative_data_rejection])


def test_the_fuzzed_document_excludes_only_connect_and_disconnect(api_schema, fuzz_app):
    filtered = api_schema.exclude(path=NOT_FUZZED)
    fuzzed = {op.ok().path for op in filtered.get_all_operations()}
    documented = set(fuzz_app.openapi()["paths"])
    assert documented - fuzzed == set(NOT_FUZZED)
