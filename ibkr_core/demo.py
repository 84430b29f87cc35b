"""The built-in demo: the simulated IB Gateway, started on demand in this process.

Public API::

    demo = DemoGateway(seed=7)
    host, port = demo.ensure_started()   # idempotent, thread-safe; free 127.0.0.1 port
    demo.running, demo.host, demo.port, demo.account_id
    demo.gateway                         # the BackgroundGateway (set_price, ...) or None
    demo.stop()                          # also registered with atexit

The demo account is a paper account (``DU...``) on the simulator's ``multi-asset``
profile: USD base with US stocks, AAPL options, an ES future and option, SAP on IBIS
(EUR), Tencent on SEHK (HKD), EUR/JPY cash, EUR.USD, a US Treasury note and BTC, the
shapes a real account's money takes. A couple of symbols are configured the way a fresh
paper account often is, so the quote-source labels have something to show:
``TSLA`` is not entitled to live data (IBKR answers 354, delayed data is used) and
``NFLX`` is delayed-only (IBKR answers 10167 and streams delayed ticks).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from dataclasses import replace

from ibkr_core.simulator import BackgroundGateway, SimConfig, start_in_background

__all__ = ["DEMO_CONFIG", "DEMO_PROFILE", "DEMO_SEED", "DemoGateway"]

log = logging.getLogger(__name__)

DEMO_SEED = 7
DEMO_PROFILE = "multi-asset"
DEMO_CONFIG = SimConfig(
    profile=DEMO_PROFILE,
    not_entitled=frozenset({"TSLA"}),
    delayed_only=frozenset({"NFLX"}),
)


class DemoGateway:
    """A simulated IB Gateway on a free localhost port, started on first use."""

    def __init__(
        self,
        seed: int = DEMO_SEED,
        config: SimConfig | None = None,
        host: str = "127.0.0.1",
        profile: str | None = None,
    ) -> None:
        self.seed = seed
        self.config = config or DEMO_CONFIG
        if profile is not None:  # "stocks", "multi-asset", "eur-base", "advisor"
            self.config = replace(self.config, profile=profile)
        self.host = host
        self._lock = threading.Lock()
        self._gateway: BackgroundGateway | None = None
        self._atexit_registered = False

    @property
    def gateway(self) -> BackgroundGateway | None:
        return self._gateway

    @property
    def running(self) -> bool:
        gw = self._gateway
        return gw is not None and gw.running

    @property
    def port(self) -> int | None:
        return self._gateway.port if self.running else None

    @property
    def account_id(self) -> str:
        return self.config.account_id

    def ensure_started(self) -> tuple[str, int]:
        """Start the gateway unless it already runs; return ``(host, port)``."""
        with self._lock:
            if self._gateway is None or not self._gateway.running:
                self._gateway = start_in_background(
                    seed=self.seed, port=0, host=self.host, config=self.config
                )
                log.info("demo gateway listening on %s:%s", self.host, self._gateway.port)
                if not self._atexit_registered:
                    atexit.register(self.stop)
                    self._atexit_registered = True
            return self._gateway.host, self._gateway.port

    def stop(self) -> None:
        """Stop the gateway (idempotent)."""
        with self._lock:
            gw, self._gateway = self._gateway, None
        if gw is not None:
            with contextlib.suppress(Exception):
                gw.stop()
