"""Several accounts behind one login (an advisor): one matching engine per account, seen
by the gateway and sessions as one engine. An order goes to its account's engine; queries
merge every engine's orders and executions."""

from __future__ import annotations

from typing import Any

from .account import Account
from .market import Market
from .matching import Event, MatchingEngine, Rejection, SimOrder

PERM_ID_START = 1_500_000_001
PERM_STRIDE = 100_000_000  # each account's perm ids start apart


class EngineGroup:
    """The MatchingEngine interface over one engine per account."""

    def __init__(self, accounts: tuple[Account, ...], market: Market) -> None:
        self.engines = {
            a.account_id: MatchingEngine(a, market, perm_id_start=PERM_ID_START + i * PERM_STRIDE)
            for i, a in enumerate(accounts)
        }
        self.account = accounts[0]
        self.market = market

    def __getattr__(self, name: str) -> Any:
        # Settings and methods not routed here (e.g. check_margin) act on every engine's
        # first; reading them reads the first account's engine.
        return getattr(next(iter(self.engines.values())), name)

    def engine_for(self, account: str) -> MatchingEngine:
        return self.engines.get(account) or next(iter(self.engines.values()))

    def _owner(self, order_id: int, client_id: int | None = None) -> MatchingEngine | None:
        found = [e for e in self.engines.values() if e.order(order_id, client_id) is not None]
        working = [e for e in found if e.order(order_id, client_id).is_working]
        return (working or found or [None])[0]

    def order(self, order_id: int, client_id: int | None = None) -> SimOrder | None:
        engine = self._owner(order_id, client_id)
        return engine.order(order_id, client_id) if engine else None

    def open_orders(self) -> list[SimOrder]:
        return [o for e in self.engines.values() for o in e.open_orders()]

    def completed_orders(self) -> list[SimOrder]:
        return [o for e in self.engines.values() for o in e.completed_orders()]

    def executions(self) -> list:
        events = [x for e in self.engines.values() for x in e.executions()]
        return sorted(events, key=lambda x: x.execution.time)

    def submit(self, order: SimOrder, now: float) -> list[Event] | Rejection:
        return self.engine_for(order.account).submit(order, now)

    def cancel(self, order: SimOrder | int, now: float) -> list[Event] | Rejection:
        if isinstance(order, SimOrder):
            return self.engine_for(order.account).cancel(order, now)
        engine = self._owner(order) or next(iter(self.engines.values()))
        return engine.cancel(order, now)

    def on_market(self, now: float) -> list[Event]:
        return [x for e in self.engines.values() for x in e.on_market(now)]

    def what_if(self, order: SimOrder):
        return self.engine_for(order.account).what_if(order)
