"""Records the account into the history store: snapshots, executions and commissions.

Public API::

    recorder = Recorder(store, connection, portfolio, settings, history=..., is_demo=...)
    recorder.start()        # idempotent; a daemon writer thread
    recorder.flush(timeout) # wait until everything queued is written (tests, shutdown)
    recorder.snapshot_now() # queue a snapshot (e.g. after a deposit in the simulator)
    recorder.stop()

While connected, one snapshot per account (net liquidation, cash, daily / unrealized /
realized P&L, in the account's base currency) every ``settings.snapshot_interval``
seconds (default 60) and after every fill. Executions and commission reports are stored
as they arrive, and on every (re)connect the fills the gateway still reports are swept in
(IBKR reports executions only back to midnight: the store keeps them beyond).

The loop thread only copies event data into a ``queue.SimpleQueue`` (never blocks); the
writer thread does every store write and every blocking read of the account. Each write
is its own DuckDB transaction, so a crash loses at most the write in progress.

Demo only: on the first connection to the built-in simulated gateway with an empty
store, the account's last year is replayed from the simulator's daily bars (kind
"replay"): today's net liquidation, each holding moved back by its own contract's daily
closes (options by the option's, futures by their P&L, foreign holdings in base at
today's rates, cash constant), so the equity curve ends where today's account is and
Explore has something to show on the first visit. A real account's past cannot be
rebuilt that way, so it is never done for one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ibkr_core.history import YEAR_AND_A_WEEK, daily_index
from ibkr_core.holdings import NOT_IN_VALUE
from ibkr_core.store import AccountSnapshot, FillRecord, HistoryStore

log = logging.getLogger(__name__)

UNSET_DOUBLE = 1.7976931348623157e308  # IBKR's "no value" for realizedPNL & co.
FILL_SETTLE = 1.0  # seconds after a commission report before the "fill" snapshot
REPLAY_DAYS = YEAR_AND_A_WEEK  # what Explore loads by default: its first visit reads the store
REPLAY_NOTE = "replay_held:"  # store meta key + account: holdings held at today's value


def _num(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) or abs(x) >= UNSET_DOUBLE / 2 else x


def fill_record(fill: Any) -> FillRecord:
    """An ib_async ``Fill`` as stored (loop thread: attribute copies only)."""
    ex, c, report = fill.execution, fill.contract, fill.commissionReport
    commission = _num(getattr(report, "commission", None)) if report else None
    has_commission = report is not None and bool(getattr(report, "execId", ""))
    ts = ex.time if isinstance(ex.time, datetime) else fill.time
    return FillRecord(
        exec_id=ex.execId,
        account=ex.acctNumber,
        ts=ts if ts.tzinfo else ts.replace(tzinfo=UTC),
        symbol=c.localSymbol if c.secType == "CASH" else c.symbol,
        sec_type=c.secType,
        currency=c.currency,
        side=ex.side,
        shares=float(ex.shares),
        price=float(ex.price),
        exchange=ex.exchange or "",
        order_id=int(ex.orderId or 0),
        perm_id=int(ex.permId or 0),
        commission=commission if has_commission else None,
        commission_currency=(report.currency or None) if has_commission else None,
        realized_pnl=_num(report.realizedPNL) if has_commission else None,
    )


@dataclass(frozen=True)
class _Commission:
    exec_id: str
    commission: float
    currency: str
    realized_pnl: float | None


@dataclass(frozen=True)
class _Task:
    kind: str  # fill, commission, fill_settled, snapshot, sweep, replay, flush, stop
    payload: Any = None


class Recorder:
    def __init__(
        self,
        store: HistoryStore,
        connection: Any,
        portfolio: Any,
        settings: Any,
        *,
        history: Any = None,
        is_demo: Callable[[], bool] = lambda: False,
        replay_symbols: Callable[[], list[str]] = lambda: [],
        contract_bars: Callable[[int, str, str, str], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._conn = connection
        self._portfolio = portfolio
        self._interval = max(1.0, float(getattr(settings, "snapshot_interval", 60.0)))
        self._history = history
        self._is_demo = is_demo
        self._replay_symbols = replay_symbols
        self._contract_bars = contract_bars  # (conId, secType, exchange, duration) -> bars
        self._clock = clock
        self._queue: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._attached = False
        self._lock = threading.Lock()
        self.errors: list[str] = []  # the last few write failures, for the UI / tests

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or not self.store.available:
                return
            self._thread = threading.Thread(target=self._run, name="history-recorder", daemon=True)
            self._thread.start()
        with contextlib.suppress(Exception):
            self._conn.loop.call(self._attach, timeout=5)

    def stop(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(Exception):
            self._conn.loop.call(self._detach, timeout=5)
        thread = self._thread
        if thread is not None:
            self._queue.put(_Task("stop"))
            thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every task queued before this call is done."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(_Task("flush", done))
        return done.wait(timeout)

    def snapshot_now(self, kind: str = "live") -> None:
        self._queue.put(_Task("snapshot", kind))

    # -- loop thread: copy and queue, nothing else ---------------------------------------

    def _attach(self) -> None:
        if self._attached:
            return
        ib = self._conn.ib
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        self._conn.connected_event += self._on_session_up
        self._conn.reconnected_event += self._on_session_up
        self._attached = True
        if ib.isConnected():
            self._on_session_up(None)

    def _detach(self) -> None:
        if not self._attached:
            return
        ib = self._conn.ib
        ib.execDetailsEvent -= self._on_exec
        ib.commissionReportEvent -= self._on_commission
        self._conn.connected_event -= self._on_session_up
        self._conn.reconnected_event -= self._on_session_up
        self._attached = False

    def _on_exec(self, _trade: Any, fill: Any) -> None:
        self._queue.put(_Task("fill", fill_record(fill)))

    def _on_commission(self, _trade: Any, fill: Any, report: Any) -> None:
        self._queue.put(
            _Task(
                "commission",
                _Commission(
                    report.execId or fill.execution.execId,
                    float(report.commission),
                    report.currency,
                    _num(report.realizedPNL),
                ),
            )
        )
        self._queue.put(_Task("fill_settled"))

    def _on_session_up(self, _status: Any) -> None:
        fills = [fill_record(f) for f in self._conn.ib.fills()]
        self._queue.put(_Task("sweep", fills))
        self._queue.put(_Task("snapshot", "live"))
        self._queue.put(_Task("replay"))

    # -- writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        next_snapshot = self._clock() + self._interval
        fill_due: float | None = None  # a snapshot owed to recent fills
        while True:
            due = next_snapshot if fill_due is None else min(next_snapshot, fill_due)
            try:
                task = self._queue.get(timeout=max(0.05, due - self._clock()))
            except queue.Empty:
                if fill_due is not None and self._clock() >= fill_due:
                    task, fill_due = _Task("snapshot", "fill"), None
                else:
                    task = _Task("snapshot", "live")
            if task.kind == "stop":
                return
            if task.kind == "flush":
                task.payload.set()
                continue
            if task.kind == "fill_settled":
                # one snapshot shortly after a burst of fills, once the account values
                # that follow the commission reports have arrived
                fill_due = fill_due or self._clock() + FILL_SETTLE
                continue
            if task.kind == "snapshot" and task.payload == "live":
                next_snapshot = self._clock() + self._interval
            try:
                self._do(task)
            except Exception as exc:  # a store hiccup must not end recording
                log.exception("history recorder: %s failed", task.kind)
                self.errors = [*self.errors[-4:], f"{task.kind}: {exc}"]

    def _do(self, task: _Task) -> None:
        if task.kind == "fill":
            self.store.write_fill(task.payload)
        elif task.kind == "sweep":
            for record in task.payload:
                self.store.write_fill(record)
        elif task.kind == "commission":
            c = task.payload
            if not self.store.set_commission(c.exec_id, c.commission, c.currency, c.realized_pnl):
                log.info("commission for unknown execution %s (fill not seen yet)", c.exec_id)
        elif task.kind == "snapshot":
            self._snapshot(task.payload)
        elif task.kind == "replay":
            self._replay()

    def _snapshot(self, kind: str) -> None:
        if not self._conn.ib_ready():
            return
        summary = self._portfolio.portfolio_summary()
        if not summary.connected:
            return
        per_account = summary.per_account or (
            {summary.accounts[0]: summary} if summary.accounts else {}
        )
        now = datetime.now(UTC)
        self.store.write_snapshots(
            AccountSnapshot(
                account=account,
                ts=now,
                currency=s.currency,
                net_liquidation=s.net_liquidation,
                total_cash=s.total_cash,
                daily_pnl=s.daily_pnl,
                unrealized_pnl=s.unrealized_pnl,
                realized_pnl=s.realized_pnl,
                kind=kind,
            )
            for account, s in per_account.items()
        )

    def _replay(self) -> None:
        """Demo only: a year of daily account values from the simulator's bars."""
        if not self._is_demo() or self._history is None:
            return
        summary = self._portfolio.portfolio_summary()
        for account in summary.accounts:
            if len(self.store.snapshots(account)) > 5:  # replayed or recorded already
                continue
            self._replay_account(account, summary)
        for symbol in self._replay_symbols():  # warm the store for Explore
            self._history.daily(symbol, self._history.today() - timedelta(days=REPLAY_DAYS))

    def _bars_of(self, row: Any, today: Any, duration: str) -> Any:
        """A holding's own daily bars: a US stock through the history store (Explore
        reads the same bars), anything else by its conId."""
        try:
            if row.sec_type == "STK" and row.currency == "USD":
                series = self._history.daily(row.symbol, today - timedelta(days=REPLAY_DAYS))
                return series.frame if series.ok else None
            return self._contract_bars(row.con_id, row.sec_type, row.exchange, duration)
        except Exception as exc:
            log.info("replay: no bars for %s (%s)", row.local_symbol or row.symbol, exc)
            return None

    def _replay_account(self, account: str, summary: Any) -> None:
        """Today's net liquidation walked back day by day: each holding's base value today
        (IBKR's, converted at the account's rates) moved by its own contract's daily closes
        (futures: their P&L only; cash per currency at today's rates, so constant). A
        holding without bars of its own is held at today's value, and the note says so."""
        own = summary.per_account.get(account, summary) if summary.per_account else summary
        if own.net_liquidation is None or self._contract_bars is None:
            return
        import pandas as pd

        today = self._history.today()
        duration = f"{REPLAY_DAYS} D" if REPLAY_DAYS <= 365 else "2 Y"
        moves: dict[int, pd.Series] = {}
        held: list[str] = []
        for row in self._portfolio.positions(account):
            if not row.quantity or row.in_cash:  # FX positions are in the cash balances
                continue
            base = row.notional_base if row.sec_type in NOT_IN_VALUE else row.market_value_base
            name = row.local_symbol or row.symbol
            if base is None:
                log.info("replay: %s has no base value today; nothing to replay", name)
                return  # an unknown part would make the whole curve wrong
            frame = self._bars_of(row, today, duration)
            if frame is None or frame.empty or not (frame["close"] > 0).any():
                log.info("replay: %s has no daily bars: held at today's value", name)
                held.append(name)
                continue
            closes = daily_index(frame)["close"].where(lambda c: c > 0).dropna()
            moves[row.con_id] = base * (closes / closes.iloc[-1] - 1.0)
        days = pd.DataFrame(moves).sort_index().ffill().bfill() if moves else None
        if days is None:
            return
        rows = [
            AccountSnapshot(
                account=account,
                ts=ts + pd.Timedelta(hours=21),  # after the US close
                currency=own.currency,
                net_liquidation=own.net_liquidation + float(move.sum()),
                total_cash=own.total_cash,
                kind="replay",
            )
            for ts, move in days.iterrows()
            if today - timedelta(days=REPLAY_DAYS) <= ts.date() < today
        ]
        self.store.write_snapshots(rows)
        self.store.set_meta(f"{REPLAY_NOTE}{account}", ", ".join(held))
        log.info(
            "replayed %d days of %s from the simulator's bars (%d holdings held at today's "
            "value%s)",
            len(rows),
            account,
            len(held),
            f": {', '.join(held)}" if held else "",
        )
