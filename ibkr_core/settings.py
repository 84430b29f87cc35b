"""One settings object, read from the environment and `.streamlit/secrets.toml`.

Environment variables win over the secrets file. Secret values are kept out of
``repr`` so they never reach a log line.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
ENV_PREFIX = "IBKR_"


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
            values[f.name] = _coerce(f.type, raw)
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
