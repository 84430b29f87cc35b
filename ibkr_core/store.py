"""The local history store: one embedded DuckDB file under the data directory.

Public API::

    store = HistoryStore.open(path)            # never raises; store.status says how it went
    store.available, store.status.message      # False + a plain sentence when unusable
    store.write_bars(symbol, bar_size, source, frame)  /  store.read_bars(...)
    store.coverage(symbol, bar_size, source) -> Coverage | None   # what was fetched already
    store.write_snapshots([AccountSnapshot, ...])  /  store.snapshots(account)
    store.write_fill(FillRecord)  /  store.set_commission(exec_id, ...)  /  store.fills(...)
    store.close()

Why DuckDB: in-process (no server to run), columnar (a year of bars for ten symbols is one
fast scan), ACID with a write-ahead log (each write is its own transaction, so a crash
mid-write loses at most that write), and it reads and writes Parquet for exports.

One ``HistoryStore`` per process (``services.store``): DuckDB lets one process open a file
for writing, so every session shares this one connection, serialised by a lock. A file
that is not a DuckDB database (or an unreadable one) is moved aside to
``<name>.corrupt-<UTC time>`` (never overwritten nor deleted) and a new empty store is
started; a file another process holds is left alone and the dashboard runs without
history, saying why. Times are stored as naive UTC.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "SCHEMA_VERSION",
    "AccountSnapshot",
    "Coverage",
    "FillRecord",
    "HistoryStore",
    "StoreStatus",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BAR_COLUMNS = ("open", "high", "low", "close", "volume")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS bars (
        symbol VARCHAR, bar_size VARCHAR, source VARCHAR, ts TIMESTAMP,
        open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE,
        PRIMARY KEY (symbol, bar_size, source, ts))""",
    """CREATE TABLE IF NOT EXISTS coverage (
        symbol VARCHAR, bar_size VARCHAR, source VARCHAR,
        covered_from DATE, covered_to DATE, fetched_at TIMESTAMP,
        PRIMARY KEY (symbol, bar_size, source))""",
    """CREATE TABLE IF NOT EXISTS snapshots (
        account VARCHAR, ts TIMESTAMP, currency VARCHAR,
        net_liquidation DOUBLE, total_cash DOUBLE, daily_pnl DOUBLE,
        unrealized_pnl DOUBLE, realized_pnl DOUBLE, kind VARCHAR,
        PRIMARY KEY (account, ts))""",
    """CREATE TABLE IF NOT EXISTS fills (
        exec_id VARCHAR PRIMARY KEY, account VARCHAR, ts TIMESTAMP, symbol VARCHAR,
        sec_type VARCHAR, currency VARCHAR, side VARCHAR, shares DOUBLE, price DOUBLE,
        exchange VARCHAR, order_id BIGINT, perm_id BIGINT,
        commission DOUBLE, commission_currency VARCHAR, realized_pnl DOUBLE)""",
)


@dataclass(frozen=True)
class StoreStatus:
    available: bool
    path: str
    message: str | None = None  # a plain sentence when something went wrong


@dataclass(frozen=True)
class Coverage:
    """The date range a provider was already asked for (whether or not it had bars)."""

    covered_from: date
    covered_to: date
    fetched_at: datetime  # naive UTC


@dataclass(frozen=True)
class AccountSnapshot:
    """One account's values at one moment, in the account's base currency."""

    account: str
    ts: datetime  # aware or naive UTC
    currency: str
    net_liquidation: float | None
    total_cash: float | None
    daily_pnl: float | None = None
    unrealized_pnl: float | None = None
    realized_pnl: float | None = None
    kind: str = "live"  # "live" (timer), "fill" (at a fill), "replay" (demo history)


@dataclass(frozen=True)
class FillRecord:
    exec_id: str
    account: str
    ts: datetime
    symbol: str
    sec_type: str
    currency: str
    side: str  # "BOT" / "SLD", as IBKR reports it
    shares: float
    price: float
    exchange: str = ""
    order_id: int = 0
    perm_id: int = 0
    commission: float | None = None
    commission_currency: str | None = None
    realized_pnl: float | None = None


def _naive_utc(ts: datetime | pd.Timestamp) -> datetime:
    ts = pd.Timestamp(ts)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(UTC).tz_localize(None)
    return ts.to_pydatetime()


class HistoryStore:
    """A DuckDB file shared by the whole process (see the module docstring)."""

    def __init__(self, path: str | Path, connection: Any | None, status: StoreStatus) -> None:
        self.path = Path(path)
        self._con = connection
        self.status = status
        self._lock = threading.Lock()

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> HistoryStore:
        """Open (or create) the store at `path`. Never raises: see ``status``."""
        path = Path(path)
        try:
            import duckdb
        except ImportError:  # pragma: no cover - duckdb is a requirement
            return cls.unavailable(path, "History is off: the duckdb package is not installed.")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                return cls.unavailable(
                    path,
                    f"The history store {path} is in use by another process, so history "
                    "is off in this dashboard (nothing is recorded).",
                )
            return cls._set_aside(path, text)
        except (duckdb.Error, OSError) as exc:
            return cls._set_aside(path, str(exc))
        try:
            version = cls._migrate(con)
        except Exception as exc:  # unreadable tables: the file is damaged
            with contextlib.suppress(Exception):
                con.close()
            return cls._set_aside(path, str(exc))
        if version > SCHEMA_VERSION:
            con.close()
            return cls.unavailable(
                path,
                f"The history store {path} was written by a newer version (schema {version}, "
                f"this one reads {SCHEMA_VERSION}); history is off and the file is untouched.",
            )
        return cls(path, con, StoreStatus(True, str(path)))

    @classmethod
    def absent(cls) -> HistoryStore:
        """No store at all (a history service built without one): unavailable, quietly."""
        return cls("", None, StoreStatus(False, "", "no history store configured"))

    @classmethod
    def unavailable(cls, path: str | Path, message: str) -> HistoryStore:
        log.warning("%s", message)
        return cls(path, None, StoreStatus(False, str(path), message))

    @classmethod
    def _set_aside(cls, path: Path, reason: str) -> HistoryStore:
        """Move a damaged file aside (a new name, never an existing one), start afresh."""
        import duckdb

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            path.rename(aside)
            wal = path.with_name(path.name + ".wal")
            if wal.exists():
                wal.rename(aside.with_name(aside.name + ".wal"))
            con = duckdb.connect(str(path))
            cls._migrate(con)
        except (OSError, duckdb.Error) as exc:
            return cls.unavailable(
                path,
                f"The history store {path} could not be read ({reason}) nor set aside "
                f"({exc}); history is off.",
            )
        message = (
            f"The history store {path} could not be read ({reason.splitlines()[0]}). "
            f"It was kept as {aside.name} and a new, empty store was started."
        )
        log.error("%s", message)
        return cls(path, con, StoreStatus(True, str(path), message))

    @staticmethod
    def _migrate(con: Any) -> int:
        """The file's schema version; creates (or, later, upgrades) ours unless newer."""
        has_meta = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ).fetchone()[0]
        row = None
        if has_meta:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            return int(row[0])  # newer: touch nothing
        for statement in _SCHEMA:
            con.execute(statement)
        if row is None:
            con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
            return SCHEMA_VERSION
        return int(row[0])  # future versions migrate here, step by step

    @property
    def available(self) -> bool:
        return self._con is not None

    @property
    def schema_version(self) -> int | None:
        rows = self._query("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(rows[0][0]) if rows else None

    def close(self) -> None:
        with self._lock:
            con, self._con = self._con, None
        if con is not None:
            with contextlib.suppress(Exception):
                con.close()

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        with self._lock:
            if self._con is None:
                raise RuntimeError("history store unavailable")
            yield self._con

    def _query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        if not self.available:
            return []
        with self._cursor() as con:
            return con.execute(sql, params or []).fetchall()

    def _frame(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame | None:
        if not self.available:
            return None
        with self._cursor() as con:
            return con.execute(sql, params or []).df()

    # -- bars ----------------------------------------------------------------------------

    def write_bars(self, symbol: str, bar_size: str, source: str, frame: pd.DataFrame) -> int:
        """Insert or replace bars (index: bar time; columns open..volume). Returns rows."""
        if not self.available or frame is None or frame.empty:
            return 0
        rows = pd.DataFrame(
            {
                "symbol": symbol,
                "bar_size": bar_size,
                "source": source,
                "ts": [_naive_utc(t) for t in frame.index],
                **{c: frame[c].astype("float64").to_numpy() for c in BAR_COLUMNS},
            }
        )
        with self._cursor() as con:
            con.register("incoming_bars", rows)
            try:
                con.execute("INSERT OR REPLACE INTO bars SELECT * FROM incoming_bars")
            finally:
                con.unregister("incoming_bars")
        return len(rows)

    def read_bars(
        self,
        symbol: str,
        bar_size: str,
        source: str,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
    ) -> pd.DataFrame:
        """Stored bars in [start, end] (inclusive), indexed by UTC time, oldest first."""
        sql = (
            "SELECT ts, open, high, low, close, volume FROM bars "
            "WHERE symbol = ? AND bar_size = ? AND source = ?"
        )
        params: list[Any] = [symbol, bar_size, source]
        if start is not None:
            sql += " AND ts >= ?"
            params.append(_naive_utc(pd.Timestamp(start)))
        if end is not None:
            sql += " AND ts < ?"
            params.append(_naive_utc(pd.Timestamp(end) + pd.Timedelta(days=1)))
        frame = self._frame(sql + " ORDER BY ts", params)
        if frame is None or frame.empty:
            return pd.DataFrame(
                columns=list(BAR_COLUMNS), index=pd.DatetimeIndex([], tz=UTC, name="date")
            ).astype("float64")
        index = pd.DatetimeIndex(frame.pop("ts")).tz_localize(UTC)
        frame.index = index.rename("date")
        return frame.astype("float64")

    def coverage(self, symbol: str, bar_size: str, source: str) -> Coverage | None:
        rows = self._query(
            "SELECT covered_from, covered_to, fetched_at FROM coverage "
            "WHERE symbol = ? AND bar_size = ? AND source = ?",
            [symbol, bar_size, source],
        )
        return Coverage(*rows[0]) if rows else None

    def set_coverage(self, symbol: str, bar_size: str, source: str, coverage: Coverage) -> None:
        if not self.available:
            return
        with self._cursor() as con:
            con.execute(
                "INSERT OR REPLACE INTO coverage VALUES (?, ?, ?, ?, ?, ?)",
                [symbol, bar_size, source, *asdict(coverage).values()],
            )

    # -- account snapshots ---------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        """A small named value kept with the history (e.g. what the demo replay held)."""
        with self._cursor() as cur:
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0][0] if rows else None

    def write_snapshots(self, snapshots: Iterable[AccountSnapshot]) -> int:
        rows = [
            (s.account, _naive_utc(s.ts), s.currency, s.net_liquidation, s.total_cash,
             s.daily_pnl, s.unrealized_pnl, s.realized_pnl, s.kind)
            for s in snapshots
        ]  # fmt: skip
        if not rows or not self.available:
            return 0
        with self._cursor() as con:
            con.executemany(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
        return len(rows)

    def snapshots(self, account: str | None = None, start: datetime | None = None) -> pd.DataFrame:
        """Snapshots oldest first; ``ts`` as aware UTC. Empty when history is off."""
        sql = "SELECT * FROM snapshots WHERE 1 = 1"
        params: list[Any] = []
        if account:
            sql += " AND account = ?"
            params.append(account)
        if start is not None:
            sql += " AND ts >= ?"
            params.append(_naive_utc(start))
        frame = self._frame(sql + " ORDER BY account, ts", params)
        if frame is None:
            frame = pd.DataFrame(columns=[f.name for f in fields(AccountSnapshot)])
        frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize(UTC)
        return frame

    def accounts(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT account FROM snapshots ORDER BY 1")]

    # -- fills ---------------------------------------------------------------------------

    def write_fill(self, fill: FillRecord) -> None:
        """Insert a fill, or update it (a correction); a known commission is kept."""
        if not self.available:
            return
        values = asdict(fill)
        values["ts"] = _naive_utc(fill.ts)
        names = list(values)
        updates = ", ".join(
            f"{n} = COALESCE(excluded.{n}, fills.{n})" if n.startswith(("commission", "real"))
            else f"{n} = excluded.{n}"
            for n in names[1:]
        )  # fmt: skip
        with self._cursor() as con:
            con.execute(
                f"INSERT INTO fills ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
                f"ON CONFLICT (exec_id) DO UPDATE SET {updates}",
                list(values.values()),
            )

    def set_commission(
        self, exec_id: str, commission: float, currency: str, realized_pnl: float | None
    ) -> bool:
        """Attach a commission report to its fill; False when the fill is not stored yet."""
        rows = self._query(
            "UPDATE fills SET commission = ?, commission_currency = ?, realized_pnl = ? "
            "WHERE exec_id = ? RETURNING exec_id",
            [commission, currency, realized_pnl, exec_id],
        )
        return bool(rows)

    def fills(
        self, account: str | None = None, limit: int | None = None, offset: int = 0
    ) -> pd.DataFrame:
        """Fills newest first (``ts`` aware UTC), optionally one page of them."""
        sql = "SELECT * FROM fills"
        params: list[Any] = []
        if account:
            sql += " WHERE account = ?"
            params.append(account)
        sql += " ORDER BY ts DESC, perm_id DESC, exec_id DESC"  # IBKR times are to the second
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        frame = self._frame(sql, params)
        if frame is None:
            frame = pd.DataFrame(columns=[f.name for f in fields(FillRecord)])
        frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize(UTC)
        return frame

    def fill_count(self, account: str | None = None) -> int:
        sql, params = "SELECT count(*) FROM fills", []
        if account:
            sql, params = sql + " WHERE account = ?", [account]
        rows = self._query(sql, params)
        return int(rows[0][0]) if rows else 0
