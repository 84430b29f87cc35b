"""The dashboard under benchmark: ``streamlit_app.py`` run unchanged, plus a few knobs.

``common.DashboardServer`` writes a two-line main script that calls :func:`run_app`.
Environment variables (all set by ``DashboardServer``):

- ``BENCH_APP_ROOT``: the repository (``streamlit_app.py`` is run from there).
- ``BENCH_GATEWAY_PORT``: connect the process-wide services to this simulated gateway
  once, at the first run (what a user does with the sidebar's Connect button).
- ``BENCH_MAX_SYMBOLS``: lift the watchlist's 50-symbol cap and the market-data
  registry's 90-line cap to this many (for the 100-symbol runs).
- ``BENCH_MODE``: ``fragment`` (the app as shipped: the quotes table is an
  ``st.fragment(run_every=...)`` unless the live push stream is up) or ``whole`` (every
  fragment becomes a plain function and the real ``streamlit-autorefresh`` component
  reruns the whole page every ``refresh_interval`` instead).
- ``BENCH_TIMING_FILE``: append one JSON line per timed run (quotes fragment or whole
  script): kind, wall seconds and script-thread CPU seconds.

Yahoo is switched off here: the benchmarks must not reach the internet, and with IBKR
connected every symbol is priced by IBKR anyway.
"""

from __future__ import annotations

import functools
import json
import os
import runpy
import sys
import threading
import time
from pathlib import Path
from typing import Any

import streamlit as st

_state: dict[str, Any] = {}
_lock = threading.Lock()


def _record(kind: str, name: str, wall: float, cpu: float) -> None:
    path = os.environ.get("BENCH_TIMING_FILE")
    if not path:
        return
    line = json.dumps({"t": time.time(), "kind": kind, "name": name, "wall": wall, "cpu": cpu})
    with _lock, open(path, "a") as fh:
        fh.write(line + "\n")


def _in_fragment_run() -> bool:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx and ctx.fragment_ids_this_run)


def _patch_fragment(mode: str) -> None:
    original = st.fragment

    def fragment(func=None, *, run_every=None):
        def decorate(f):
            if mode == "whole" and run_every is not None:
                return f  # a plain function: the whole-script timer refreshes it

            @functools.wraps(f)
            def timed(*args, **kwargs):
                wall0, cpu0 = time.perf_counter(), time.thread_time()
                try:
                    return f(*args, **kwargs)
                finally:
                    kind = "fragment" if _in_fragment_run() else "inline"
                    wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
                    _record(kind, f.__name__, wall, cpu)

            return original(timed, run_every=run_every)

        return decorate(func) if func is not None else decorate

    st.fragment = fragment
    # Streamlit may have imported pages.components before this ran: re-wrap its timer.
    components = sys.modules.get("pages.components")
    status = getattr(components, "_live_status", None)
    if status is not None and hasattr(status, "__wrapped__"):
        components._live_status = fragment(run_every=components.STATUS_REFRESH_SECONDS)(
            status.__wrapped__
        )


def _block_yahoo() -> None:
    from ibkr_core.providers import yahoo
    from ibkr_core.providers.base import ProviderUnavailable

    def offline(self, *args, **kwargs):
        raise ProviderUnavailable("Yahoo is off in benchmarks (no network)")

    yahoo.YahooProvider.fetch = offline
    yahoo.YahooProvider.fetch_history = offline


def _setup_process() -> None:
    root = os.environ["BENCH_APP_ROOT"]
    if root not in sys.path:
        sys.path.insert(0, root)
    _block_yahoo()
    _patch_fragment(os.environ.get("BENCH_MODE", "fragment"))
    from ibkr_core.services import get_services

    services = get_services()
    cap = int(os.environ.get("BENCH_MAX_SYMBOLS") or 0)
    if cap:
        services.watchlist.max_symbols = max(services.watchlist.max_symbols, cap)
        services.watchlist._symbols = None  # reload with the new cap
        from ibkr_core.ibkr_market_data import market_data

        registry = market_data(services.connection)
        registry.max_lines = max(registry.max_lines, cap)
    port = os.environ.get("BENCH_GATEWAY_PORT")
    if port:
        status = services.connect("127.0.0.1", int(port))
        print(f"bench: connected={status.connected} {status.last_error or ''}", flush=True)
    _state["services"] = services


def run_app() -> None:
    with _lock:
        if "services" not in _state:
            _setup_process()
    mode = os.environ.get("BENCH_MODE", "fragment")
    app = Path(os.environ["BENCH_APP_ROOT"]) / "streamlit_app.py"
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    finished = False
    try:
        runpy.run_path(str(app), run_name="__main__")
        finished = True
    finally:
        if mode == "whole":
            _record("whole", "script", time.perf_counter() - wall0, time.thread_time() - cpu0)
    if mode == "whole" and finished:
        # The whole-page timer: the streamlit-autorefresh component (its browser-side
        # timer asks for a full rerun every refresh_interval).
        from streamlit_autorefresh import st_autorefresh

        interval = _state["services"].settings.refresh_interval
        st_autorefresh(interval=int(interval * 1000), key="bench_autorefresh")
