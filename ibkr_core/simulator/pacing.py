"""Historical data pacing, as IBKR documents it (error 162 when exceeded).

IBKR's "Historical Data Limitations" (TWS API docs; quoted in mementum/backtrader #110):
a pacing violation occurs when making identical historical data requests within 15
seconds, or six or more requests for the same Contract, Exchange and Tick Type within two
seconds; and no more than 60 requests may be made in any ten-minute period (a BID_ASK
request counts twice). The error text is the one TWS sends with code 162, e.g. in
QuantConnect/Lean #607 and #1837: "Historical Market Data Service error
message:Historical data request pacing violation".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

PACING_VIOLATION = (
    "Historical Market Data Service error message:Historical data request pacing violation"
)
IDENTICAL_WINDOW = 15.0
BURST_WINDOW, BURST_LIMIT = 2.0, 6  # the 6th request within 2 s is refused
TEN_MINUTES, TEN_MINUTE_LIMIT = 600.0, 60  # the 61st request within 10 min is refused


@dataclass
class HistoricalPacing:
    identical_window: float = IDENTICAL_WINDOW
    burst_window: float = BURST_WINDOW
    burst_limit: int = BURST_LIMIT
    long_window: float = TEN_MINUTES
    long_limit: int = TEN_MINUTE_LIMIT
    _all: deque[float] = field(default_factory=deque, init=False, repr=False)
    _by_contract: dict[Hashable, deque[float]] = field(default_factory=dict, init=False)
    _by_request: dict[Hashable, float] = field(default_factory=dict, init=False)

    def check(
        self, now: float, contract_key: Hashable, request_key: Hashable, weight: int = 1
    ) -> str | None:
        """Record a request and return the 162 text if it breaks a pacing rule, else None.

        `contract_key` identifies contract + exchange + whatToShow; `request_key` the whole
        request (contract, end, duration, bar size, whatToShow, useRTH). Refused requests
        are not recorded, so a client that backs off recovers. `weight` is 2 for BID_ASK.
        """
        self._expire(now)
        last = self._by_request.get(request_key)
        if last is not None and now - last < self.identical_window:
            return PACING_VIOLATION
        burst = self._by_contract.get(contract_key, deque())
        if len(burst) + 1 >= self.burst_limit:
            return PACING_VIOLATION
        if len(self._all) + weight > self.long_limit:
            return PACING_VIOLATION
        for _ in range(weight):
            self._all.append(now)
        burst.append(now)
        self._by_contract[contract_key] = burst
        self._by_request[request_key] = now
        return None

    def _expire(self, now: float) -> None:
        while self._all and now - self._all[0] >= self.long_window:
            self._all.popleft()
        for key in list(self._by_contract):
            q = self._by_contract[key]
            while q and now - q[0] >= self.burst_window:
                q.popleft()
            if not q:
                del self._by_contract[key]
        for key in [k for k, t in self._by_request.items() if now - t >= self.identical_window]:
            del self._by_request[key]

    def reset(self) -> None:
        self._all.clear()
        self._by_contract.clear()
        self._by_request.clear()
