"""One companion object per IBKR connection (its market-data lines, contract cache, account
subscriptions), made on first use.

The connection only connects; what builds on it keeps per-connection state of its own.
``Companion(factory)`` gives every connection one ``factory(connection)``, kept in the
connection's ``companions`` dict (so it lives and dies with the connection). It is made
on the loop thread, which runs one thing at a time: no lock is needed, and asking from
the loop thread itself cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from ibkr_core.connection import IBKRConnection

__all__ = ["Companion"]

T = TypeVar("T")


class Companion(Generic[T]):
    def __init__(self, factory: Callable[[IBKRConnection], T]) -> None:
        self._factory = factory

    def __call__(self, connection: IBKRConnection) -> T:
        """This connection's companion (made on the loop thread the first time)."""
        found = connection.companions.get(self)
        if found is not None:
            return found
        return connection.loop.call(self._get_or_make, connection, timeout=5)

    def _get_or_make(self, connection: IBKRConnection) -> T:
        found = connection.companions.get(self)
        if found is None:
            found = connection.companions[self] = self._factory(connection)
        return found
