"""Helpers for the end-to-end browser tests: a `streamlit run` server and Debian chromium.

    with StreamlitServer(env={...}) as server: server.url, server.log_text()
    browser = launch_chromium(playwright)
    grid_cell(page, symbol, column)        # text of a st.dataframe cell (a11y table)
    metric_value(page, label)              # text of a st.metric value
    wait_app_idle(page)                    # no script run in progress

    pytestmark = browser_marks(timeout=120)  # the marker, a timeout, skip without chromium
    with chromium() as browser: ...        # sync_playwright + launch_chromium, closed after
    ctx = open_context(browser, block_live=True); page = new_page(ctx)
    with screenshots_on_failure(request, ctx): ...  # what the pages showed, on failure

Playwright never downloads a browser here: it drives /usr/bin/chromium.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """`streamlit run streamlit_app.py` on a free localhost port, killed on exit."""

    def __init__(self, env: dict[str, str] | None = None, startup_timeout: float = 30.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, **(env or {})}
        self._timeout = startup_timeout
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="streamlit-e2e-", suffix=".log", delete=False
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> StreamlitServer:
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: nothing outlives stop()
        )
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.log_text()}")
            health = f"{self.url}/_stcore/health"
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=1) as r:
                if r.status == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"streamlit not healthy within {self._timeout:g} s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        with contextlib.suppress(Exception):
            self._log.close()

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return Path(self._log.name).read_text(errors="replace")[-5000:]
        return ""

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def browser_marks(timeout: float) -> list[Any]:
    """A browser test module's ``pytestmark``: the ``browser`` marker, its timeout, and a
    skip where Debian's chromium is not installed."""
    import pytest

    return [
        pytest.mark.browser,
        pytest.mark.timeout(timeout),
        pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's /usr/bin/chromium"),
    ]


def dashboard_env(tmp: Path, password: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a test server: its own watchlist file in ``tmp``, short connect
    and provider timeouts, and (when given) a dashboard password."""
    env = {
        "IBKR_WATCHLIST_FILE": str(tmp / "watchlist.json"),
        "IBKR_CONNECT_TIMEOUT": "5",
        "IBKR_PROVIDER_TIMEOUT": "2",
    }
    if password is not None:
        env["IBKR_DASHBOARD_PASSWORD"] = password
    return {**env, **extra}


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            yield browser
        finally:
            browser.close()


def open_context(
    browser: Any,
    width: int = 1440,
    height: int = 1000,
    *,
    block_live: bool = False,
    init_scripts: Iterable[str] = (),
    **options: Any,
) -> Any:
    """A browser context of that viewport. ``block_live``: the live stream's WebSocket is
    closed at once (a proxy that blocks it), so the pages draw their fragment tables."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, **options)
    if block_live:
        ctx.route_web_socket("**/api/live", lambda ws: ws.close())
    for script in init_scripts:
        ctx.add_init_script(script)
    return ctx


def new_page(ctx: Any, timeout_ms: float = 20_000) -> Any:
    """A page of ``ctx`` whose actions wait ``timeout_ms`` at the most."""
    page = ctx.new_page()
    page.set_default_timeout(timeout_ms)
    return page


@contextlib.contextmanager
def screenshots_on_failure(request: Any, ctx: Any) -> Iterator[None]:
    """On leaving: when the test failed, a screenshot of each page of ``ctx``
    (``failed-<test>``, ``failed-<test>-1``, ...)."""
    failed_before = request.session.testsfailed
    try:
        yield
    finally:
        if request.session.testsfailed > failed_before:
            for i, pg in enumerate(ctx.pages):
                with contextlib.suppress(Exception):
                    screenshot(pg, f"failed-{request.node.name}" + (f"-{i}" if i else ""))


# JS: the text of a st.dataframe cell, by row label (first column) and column header.
_GRID_CELL_JS = """
([row, column, index]) => {
  const grids = [...document.querySelectorAll('[data-testid="stDataFrame"] table[role=grid]')];
  const grid = grids[index ?? 0];
  if (!grid) return null;
  const headers = [...grid.querySelectorAll('thead th')].map(th => th.textContent.trim());
  const col = headers.indexOf(column);
  if (col < 0) return null;
  for (const tr of grid.querySelectorAll('tbody tr')) {
    const cells = tr.querySelectorAll('td');
    const first = cells.length ? cells[0].textContent.trim() : '';
    // a row by its symbol: "AAPL", or the Portfolio's "AAPL · NASDAQ · USD"
    if (cells.length > col && (first === row || first.startsWith(row + ' · '))) {
      return cells[col].textContent.trim();
    }
  }
  return null;
}
"""

# A metric card's value as shown: Streamlit's st.metric, or the live component's pushed
# card (inside its shadow root) on a page the stream feeds.
_METRIC_JS = """
(label) => {
  for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
    const l = m.querySelector('[data-testid="stMetricLabel"]');
    if (l && l.textContent.trim() === label) {
      const v = m.querySelector('[data-testid="stMetricValue"]');
      return v ? v.textContent.trim() : null;
    }
  }
  for (const el of document.querySelectorAll('*')) {
    if (!el.shadowRoot) continue;
    for (const card of el.shadowRoot.querySelectorAll('.card')) {
      if (card.dataset.label === label) {
        const v = card.querySelector('.card-value');
        return v && v.textContent ? v.textContent.trim() : null;
      }
    }
  }
  return null;
}
"""


def grid_cell(page: Any, row: str, column: str, grid_index: int = 0) -> str | None:
    return page.evaluate(_GRID_CELL_JS, [row, column, grid_index])


def wait_grid_cell(
    page: Any, row: str, column: str, predicate_js: str, timeout: float, grid_index: int = 0
) -> str:
    """Wait until ``predicate_js`` (a JS expression over ``v``, the cell text) holds."""
    fn = f"""
    (args) => {{
      const v = ({_GRID_CELL_JS})(args);
      return v !== null && ({predicate_js}) ? v : false;
    }}
    """
    handle = page.wait_for_function(fn, arg=[row, column, grid_index], timeout=timeout * 1000)
    return handle.json_value()


def metric_value(page: Any, label: str) -> str | None:
    return page.evaluate(_METRIC_JS, label)


def wait_metric(page: Any, label: str, predicate_js: str, timeout: float) -> str:
    fn = f"""
    (label) => {{
      const v = ({_METRIC_JS})(label);
      return v !== null && ({predicate_js}) ? v : false;
    }}
    """
    return page.wait_for_function(fn, arg=label, timeout=timeout * 1000).json_value()


def money(text: str) -> float:
    sign = -1.0 if text.strip().startswith("-") else 1.0
    return sign * float(text.strip().lstrip("+-").lstrip("$").replace(",", ""))


_IDLE_JS = """
(quietMs) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const now = performance.now();
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') {
    window.__e2eBusyAt = now;
    return false;
  }
  return now - (window.__e2eBusyAt ?? 0) >= quietMs;
}
"""


def wait_app_idle(page: Any, timeout: float = 15.0, quiet: float = 0.4) -> None:
    """Wait until no script run has been seen for ``quiet`` seconds, counting from now
    (so a rerun the last action triggers but has not started yet is waited for)."""
    page.evaluate("window.__e2eBusyAt = performance.now()")
    page.wait_for_function(_IDLE_JS, arg=quiet * 1000, polling=50, timeout=timeout * 1000)


def screenshot(page: Any, name: str) -> Path:
    """A full-page PNG in tests/artifacts/, taken between two reruns when possible."""
    with contextlib.suppress(Exception):
        wait_app_idle(page, timeout=3.0, quiet=0.2)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# JS: the text of a cell of the live quotes board (the live component, in a shadow root).
_BOARD_CELL_JS = """
([symbol, column]) => {
  const roots = [document];
  for (const el of document.querySelectorAll('*')) if (el.shadowRoot) roots.push(el.shadowRoot);
  const sel = `.ibkr-live[data-mode="board"] tr[data-symbol="${symbol}"] td.c-${column}`;
  for (const root of roots) {
    const td = root.querySelector(sel);
    if (td) return td.textContent.trim();
  }
  return null;
}
"""

# JS (init script): counts script runs (stApp's script state turning "running").
RERUN_COUNTER_JS = """
window.__runs = 0;
new MutationObserver(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  if (state === 'running' && window.__lastState !== 'running') window.__runs += 1;
  window.__lastState = state;
}).observe(document, {
  subtree: true, attributes: true, attributeFilter: ['data-test-script-state'],
});
"""


def board_cell(page: Any, symbol: str, column: str) -> str | None:
    """Text of the live board's cell (column: symbol, last, bid, ask, source, age, status)."""
    return page.evaluate(_BOARD_CELL_JS, [symbol, column])


def wait_board_cell(page: Any, symbol: str, column: str, predicate_js: str, timeout: float) -> str:
    fn = f"""
    (args) => {{
      const v = ({_BOARD_CELL_JS})(args);
      return v !== null && ({predicate_js}) ? v : false;
    }}
    """
    handle = page.wait_for_function(fn, arg=[symbol, column], polling="raf", timeout=timeout * 1000)
    return handle.json_value()


def live_pill(page: Any) -> str | None:
    """The sidebar's live / paused indicator text."""
    return page.evaluate(
        """() => {
        const roots = [document];
        for (const el of document.querySelectorAll('*')) {
          if (el.shadowRoot) roots.push(el.shadowRoot);
        }
        for (const r of roots) {
          const p = r.querySelector('.ibkr-live[data-mode="status"] .live-pill');
          if (p) return p.textContent.trim();
        }
        return null;
      }"""
    )


# JS: the rows of a pushed view (Portfolio "portfolio-positions", Trade "orders-open" /
# "orders-fills") as {column: text}, in the order shown.
_LIVE_ROWS_JS = """
(mode) => {
  const roots = [document];
  for (const el of document.querySelectorAll('*')) if (el.shadowRoot) roots.push(el.shadowRoot);
  for (const root of roots) {
    const view = root.querySelector(`.ibkr-live[data-mode="${mode}"]`);
    if (!view) continue;
    return [...view.querySelectorAll('tbody tr')].map(tr => {
      const section = tr.closest('[data-kind]');
      const row = {key: tr.dataset.key, table: section ? section.dataset.kind : null};
      for (const td of tr.querySelectorAll('td')) {
        row[td.classList[0].slice(2)] = td.textContent.trim();
      }
      return row;
    });
  }
  return null;
}
"""


def live_rows(page: Any, mode: str) -> list[dict[str, str]] | None:
    """The rows of a pushed view (None: the view is not on the page)."""
    return page.evaluate(_LIVE_ROWS_JS, mode)


def wait_live_rows(page: Any, mode: str, predicate_js: str, timeout: float) -> list[dict]:
    """Wait until ``predicate_js`` (a JS expression over ``rows``) holds."""
    fn = f"""
    (mode) => {{
      const rows = ({_LIVE_ROWS_JS})(mode);
      return rows !== null && ({predicate_js}) ? rows : false;
    }}
    """
    return page.wait_for_function(fn, arg=mode, polling="raf", timeout=timeout * 1000).json_value()
