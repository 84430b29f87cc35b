"""Shared pieces of the benchmark suite: machine facts, statistics, a bigger simulated
universe, the simulated gateway in-process or as a process, the dashboard server and a
headless Chromium.

Everything here talks only to 127.0.0.1 and cleans up after itself (context managers).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

# The chromium the browser tests drive, and how (tests/browser_helpers.py imports only the
# standard library: importing it starts nothing).
from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS, free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RAW = RESULTS / "raw"

EXTRA_PREFIX = "ZQ"  # synthetic symbols ZQ00, ZQ01, ... added to the simulated universe
CLOCK_SYMBOL = "ZCLK"  # a synthetic instrument whose price carries the gateway's clock


# -- statistics ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    data = sorted(values)
    k = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values) if values else math.nan,
        "mean": statistics.fmean(values) if values else math.nan,
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


# -- machine and versions -----------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = math.nan
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
                break
    chromium = "not found"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [CHROMIUM, "--version"], capture_output=True, text=True, timeout=20
        ).stdout
        chromium = out.strip() or chromium
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "streamlit": _version("streamlit"),
        "ib_async": _version("ib_async"),
        "pandas": _version("pandas"),
        "playwright": _version("playwright"),
        "chromium": chromium,
        "load_average_at_start": os.getloadavg(),
    }


# -- raw data -------------------------------------------------------------------------------


def post_script_gc_env() -> bool | None:
    """``BENCH_POST_SCRIPT_GC=false``: run the dashboard with Streamlit's post-run
    ``gc.collect(2)`` off (``runner.postScriptGC``); unset: Streamlit's default (on)."""
    value = os.environ.get("BENCH_POST_SCRIPT_GC", "").strip().lower()
    return None if not value else value in ("1", "true", "yes", "on")


def save_raw(name: str, data: Any) -> Path:
    """``results/raw/<name>.json``; a run with BENCH_POST_SCRIPT_GC=false adds ``-nogc``."""
    RAW.mkdir(parents=True, exist_ok=True)
    if post_script_gc_env() is False and name not in ("run", "machine"):
        name += "-nogc"
    path = RAW / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, default=str))
    return path


# -- a bigger simulated universe ------------------------------------------------------------


def extend_universe(extra: int, clock: bool = False) -> list[str]:
    """Add ``extra`` synthetic US stocks (ZQ00, ZQ01, ...) and optionally the clock
    instrument to the simulator's universe of *this process* (idempotent).

    The simulator ships ~27 instruments and has no setting for more, so 100 streaming
    lines need synthetic ones. They are copies of AAPL's definition with their own
    symbol, contract id and start price; they tick like any other stock. Must run before
    a gateway is created. Returns the synthetic symbols (without the clock)."""
    from ibkr_core.simulator import universe

    base = next(i for i in universe.UNIVERSE if i.symbol == "AAPL")
    have = {i.symbol for i in universe.STOCKS_UNIVERSE}
    added: list[Any] = []
    symbols = [f"{EXTRA_PREFIX}{n:02d}" for n in range(extra)]
    for n, symbol in enumerate(symbols):
        if symbol in have:
            continue
        added.append(
            dataclasses.replace(
                base,
                symbol=symbol,
                con_id=900_000_000 + n,
                local_symbol=symbol,
                trading_class="NMS",
                long_name=f"Benchmark Synthetic {n:02d}",
                start_price=20.0 + 7.0 * n,
            )
        )
    if clock and CLOCK_SYMBOL not in have:
        added.append(
            dataclasses.replace(
                base,
                symbol=CLOCK_SYMBOL,
                con_id=899_999_999,
                local_symbol=CLOCK_SYMBOL,
                trading_class="NMS",
                long_name="Benchmark gateway clock",
                start_price=150.0,
                min_tick=0.0001,
                daily_volatility=0.0,
            )
        )
    if added:
        universe.STOCKS_UNIVERSE.add(*added)  # the "stocks" profile's (SimConfig's default)
    return symbols


def base_symbols() -> list[str]:
    """The simulator's own US stocks and ETFs (no FX, no synthetic ones)."""
    from ibkr_core.simulator import universe

    return [
        i.symbol
        for i in universe.UNIVERSE
        if i.sec_type == "STK" and not i.symbol.startswith((EXTRA_PREFIX, CLOCK_SYMBOL))
    ]


def symbols_for(count: int) -> list[str]:
    """``count`` streamable stock symbols: the simulator's own first, then synthetic."""
    own = base_symbols()
    if count <= len(own):
        return own[:count]
    extra = extend_universe(count - len(own))
    return [*own, *extra][:count]


# -- the dashboard server -------------------------------------------------------------------

WRAPPER_SOURCE = """\
# Generated by benchmarks/common.py: the dashboard with benchmark knobs (see app_support).
import streamlit as st

from benchmarks.app_support import run_app

if __name__ == "__main__":
    run_app()
else:  # streamlit run imports it: the one-process server (API, live stream), as shipped
    from ibkr_core.web.server import app_options

    app = st.App(__file__, **app_options())
"""


class DashboardServer:
    """``streamlit run`` of the real ``streamlit_app.py`` through a tiny wrapper script
    (benchmarks/app_support.py), as its own process on 127.0.0.1."""

    def __init__(
        self,
        gateway_port: int,
        symbols: Sequence[str],
        *,
        mode: str = "fragment",
        refresh_interval: float | None = None,
        post_script_gc: bool | None = None,
        timing_file: Path | None = None,
        label: str = "app",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.gateway_port = gateway_port
        self.symbols = list(symbols)
        self.mode = mode
        self.refresh_interval = refresh_interval
        self.post_script_gc = post_script_gc
        self.timing_file = timing_file
        self.label = label
        self.extra_env = dict(extra_env or {})
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._dir: tempfile.TemporaryDirectory | None = None
        self._log: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> DashboardServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bench-app-")
        work = Path(self._dir.name)
        (work / "app.py").write_text(WRAPPER_SOURCE)
        # st.Page paths resolve against the main script's folder.
        (work / "pages").symlink_to(ROOT / "pages", target_is_directory=True)
        watchlist = work / "watchlist.json"
        watchlist.write_text(json.dumps({"symbols": self.symbols}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("IBKR_")}
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            IBKR_WATCHLIST_FILE=str(watchlist),
            IBKR_PORT=str(self.gateway_port),
            IBKR_CLIENT_ID="7",
            BENCH_APP_ROOT=str(ROOT),
            BENCH_GATEWAY_PORT=str(self.gateway_port),
            BENCH_MAX_SYMBOLS=str(max(len(self.symbols), 1)),
            BENCH_MODE=self.mode,
            BENCH_TIMING_FILE=str(self.timing_file or ""),
        )
        if self.refresh_interval is not None:
            env["IBKR_REFRESH_INTERVAL"] = str(self.refresh_interval)
        env.update(self.extra_env)
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(work / "app.py"),
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--server.runOnSave",
            "false",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ]
        if self.post_script_gc is not None:
            cmd += ["--runner.postScriptGC", str(self.post_script_gc).lower()]
        RAW.mkdir(parents=True, exist_ok=True)
        self._log = open(RAW / f"server-{self.label}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early; see {self._log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("streamlit did not become healthy in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc, no psutil)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def chromium_page(viewport: tuple[int, int] = (1400, 1000)) -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            yield page
        finally:
            browser.close()


class GatewayProcess:
    """Handle of a gateway process: ``proc``, ``port``; after exit, ``steps_per_s``."""

    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.port = port
        self.pid = proc.pid
        self.steps_per_s: float | None = None


@contextlib.contextmanager
def gateway_process(
    tick_interval: float, extra: int = 0, clock: bool = False, seed: int = 3
) -> Iterator[GatewayProcess]:
    """The simulated gateway as its own process (as a real TWS is), with ``extra``
    synthetic instruments and optionally the clock instrument (benchmarks/gateway_proc).
    With the clock, ``steps_per_s`` (market steps it managed) is set once it stopped."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.gateway_proc",
        "--port",
        str(port),
        "--tick-interval",
        str(tick_interval),
        "--extra",
        str(extra),
        "--seed",
        str(seed),
    ]
    if clock:
        cmd.append("--clock")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    handle = GatewayProcess(proc, port)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if "listening" not in line:
            raise RuntimeError(f"gateway process did not start: {line!r}")
        yield handle
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout:
            for line in proc.stdout.read().splitlines():
                parts = line.split()
                if len(parts) == 4 and parts[0] == "steps":
                    handle.steps_per_s = int(parts[1]) / float(parts[3])
            proc.stdout.close()
