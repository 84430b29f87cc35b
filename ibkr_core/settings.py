"""One settings object, read from the environment and `.streamlit/secrets.toml`.

Environment variables win over the secrets file. Secret values are kept out of
``repr`` so they never reach a log line. Every number is checked when the settings are
made: a timeout, interval or limit that is not a finite number above 0 (``nan``, ``inf``,
``-1``, ``0``) or a port outside 1-65535 raises ``SettingsError`` naming the setting, so
the app refuses to start instead of running with a safety limit switched off.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
ENV_PREFIX = "IBKR_"


class SettingsError(ValueError):
    """A setting has a value the app can't run with; ``str()`` says which and why."""


# Numbers that must be finite and > 0: a NaN / inf cap or timeout silently disables it.
POSITIVE_FIELDS = (
    "connect_timeout",
    "request_timeout",
    "refresh_interval",
    "quote_cache_ttl",
    "history_cache_ttl",
    "provider_timeout",
    "stale_after",
    "max_order_value",
)


_KINDS = {"int": "whole number", "float": "number"}


def _where(name: str) -> str:
    return f"{name} (env {ENV_PREFIX}{name.upper()})"


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Every tunable of the app. Field names map to env vars ``IBKR_<NAME upper>``
    (and, for the Alpha Vantage key, the conventional ``ALPHAVANTAGE_API_KEY`` too)."""

    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 1
    connect_timeout: float = 8.0
    request_timeout: float = 6.0
    alphavantage_api_key: str = field(default="", repr=False)
    alphavantage_url: str = "https://www.alphavantage.co/query"
    refresh_interval: float = 1.0
    quote_cache_ttl: float = 15.0
    history_cache_ttl: float = 300.0
    provider_timeout: float = 5.0
    stale_after: float = 60.0
    live_trading_enabled: bool = False
    max_order_value: float = 100_000.0
    dashboard_password: str = field(default="", repr=False)
    api_token: str = field(default="", repr=False)
    # Host names the server answers to (comma separated; empty: loopback names only) and
    # extra browser origins allowed besides the server's own (e.g. behind a proxy).
    allowed_hosts: str = ""
    allowed_origins: str = ""
    push_rate: float = 4.0  # live stream: at most this many messages a second per tab
    watchlist_file: str = str(PROJECT_ROOT / "data" / "watchlist.json")
    # The history store (DuckDB); "" = history.duckdb beside the watchlist file.
    history_store_file: str = ""
    snapshot_interval: float = 60.0  # seconds between account snapshots while connected
    # The Demo preset's simulated account ("" = multi-asset; stocks, eur-base, advisor).
    demo_profile: str = ""

    @property
    def history_store_path(self) -> Path:
        if self.history_store_file:
            return Path(self.history_store_file)
        return Path(self.watchlist_file).parent / "history.duckdb"

    def __post_init__(self) -> None:
        for name in POSITIVE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SettingsError(f"{_where(name)} must be a number, not {value!r}.")
            if not math.isfinite(value) or value <= 0:
                raise SettingsError(
                    f"{_where(name)} must be a finite number greater than 0, not {value!r}."
                )
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"{_where('port')} must be between 1 and 65535, not {self.port}.")
        if not 0 <= self.client_id <= 2_147_483_647:
            raise SettingsError(f"{_where('client_id')} must be 0 or more, not {self.client_id}.")

    @classmethod
    def load(
        cls,
        environ: dict[str, str] | None = None,
        secrets_file: Path | None = None,
    ) -> Settings:
        environ = dict(os.environ if environ is None else environ)
        secrets = _read_secrets(secrets_file or DEFAULT_SECRETS_FILE)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = secrets.get(f.name, secrets.get(f.name.upper()))
            env_names = [ENV_PREFIX + f.name.upper()]
            if f.name == "alphavantage_api_key":
                env_names.append("ALPHAVANTAGE_API_KEY")
            for name in env_names:
                if environ.get(name):
                    raw = environ[name]
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = _coerce(f.type, raw)
            except ValueError:
                raise SettingsError(
                    f"{_where(f.name)} must be a {_KINDS.get(str(f.type), 'value')}, "
                    f"not {str(raw)[:40]!r}."
                ) from None
        return cls(**values)


def _coerce(type_name: Any, raw: Any) -> Any:
    kind = str(type_name)
    if kind == "bool":
        return _parse_bool(raw)
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return str(raw)


def _read_secrets(path: Path) -> dict[str, Any]:
    """Flat keys, plus any ``[ibkr]`` table, from Streamlit's secrets file."""
    try:
        data = tomllib.loads(path.read_text())
    except (FileNotFoundError, tomllib.TOMLDecodeError, OSError):
        return {}
    merged = {k: v for k, v in data.items() if not isinstance(v, dict)}
    merged.update(data.get("ibkr", {}))
    return merged
