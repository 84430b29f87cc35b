"""Keeps the benchmark code from rotting: the cheapest benchmark on tiny inputs, the
report rendering, and the helpers. No timing assertions."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import provider_load
from benchmarks.common import percentile, summary
from benchmarks.gateway_proc import clock_price, decode_clock


class _NoPlots:
    def __getattr__(self, name):
        return lambda result: None


def test_provider_load_counts_upstream_requests():
    result = provider_load.scenario(True, seconds=1.5, sessions=2, symbols=["S00", "S01"])
    assert result["refreshes"] >= 2
    assert result["naive_requests"] == result["refreshes"] * 2
    # Cached and single-flighted: the Yahoo stand-in sees each symbol once.
    assert result["yahoo_requests"] == 2
    assert result["alphavantage_requests"] == 0
    text = provider_load.render({"runs": [result]}, _NoPlots())
    assert "Yahoo up" in text


def test_alphavantage_stand_in_speaks_global_quote():
    from ibkr_core.providers.alphavantage import AlphaVantageProvider
    from ibkr_core.settings import Settings

    with provider_load.AlphaVantageStandIn(latency=0.0) as av:
        settings = Settings(alphavantage_api_key="k", alphavantage_url=av.url)
        quote = AlphaVantageProvider(settings, min_interval=0.0).fetch_one("S07")
        assert quote.ok and quote.last is not None
        assert av.requests["S07"] == 1


def test_clock_round_trip():
    now = 1_800_000_123.4567
    assert decode_clock(round(clock_price(now), 4), now + 0.2) == pytest.approx(now, abs=1e-3)
    # across the 100 s wrap
    wrapped = 1_800_000_199.99
    assert decode_clock(round(clock_price(wrapped), 4), wrapped + 0.05) == pytest.approx(
        wrapped, abs=1e-3
    )


def test_percentiles():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert summary([])["n"] == 0


BENCHMARK_MODULES = sorted(
    p.stem for p in Path(__file__).parents[1].joinpath("benchmarks").glob("*.py")
)


@pytest.mark.parametrize("name", BENCHMARK_MODULES)
def test_every_benchmark_imports(name):
    """`python -m benchmarks --only soak` once failed on a renamed helper: import them all."""
    import importlib

    importlib.import_module(f"benchmarks.{name}")


def test_the_100_symbol_runs_get_100_streaming_lines():
    """The synthetic stocks of the 100-symbol benchmarks reach a gateway (own process:
    they extend the simulator's universe for good)."""
    import subprocess
    import sys

    script = (
        "from benchmarks.common import symbols_for\n"
        "from ibkr_core.simulator import SimConfig, start_in_background\n"
        "symbols = symbols_for(100)\n"
        "assert len(set(symbols)) == 100 and symbols_for(100) == symbols\n"
        "gw = start_in_background(seed=5, port=0, config=SimConfig())\n"
        "try:\n"
        "    assert gw.quote(symbols[-1]).last > 0\n"
        "finally:\n"
        "    gw.stop()\n"
    )
    root = Path(__file__).parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
