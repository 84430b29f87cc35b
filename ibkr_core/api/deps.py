"""What every route needs: the shared context, and a bounded way to call blocking code.

ibkr_core's public methods block (with their own timeouts). From an async route they
always go through ``run_blocking``: a worker thread (anyio's pool) plus an outer
deadline, so a stuck call turns into a 504 instead of a stalled event loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request
from starlette.requests import HTTPConnection

from ibkr_core.web.tokens import Credentials

if TYPE_CHECKING:
    from ibkr_core.api.stream import QuoteHub
    from ibkr_core.services import Services

T = TypeVar("T")


@dataclass
class ApiContext:
    """Per-app state: the services it serves and its own IBKR client id."""

    services: Services
    client_id: int
    heartbeat_interval: float = 15.0
    credentials: Credentials = field(default_factory=Credentials, repr=False)
    hub: QuoteHub | None = field(default=None, repr=False)

    @property
    def settings(self) -> Any:
        return self.services.settings

    @property
    def request_timeout(self) -> float:
        """Outer deadline for one ordinary ibkr_core call (its own bound plus slack)."""
        return float(self.settings.request_timeout) + 2.0

    @property
    def quote_timeout(self) -> float:
        return float(self.settings.provider_timeout) + 2.0

    def ibkr_ready(self) -> bool:
        return bool(self.services.connection.ib_ready())


def get_context(conn: HTTPConnection) -> ApiContext:
    return conn.app.state.api


def context(request: Request) -> ApiContext:
    """FastAPI dependency: the app's ``ApiContext``."""
    return get_context(request)


async def run_blocking(fn: Callable[..., T], *args: Any, timeout: float, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a worker thread; ``TimeoutError`` after ``timeout`` s.

    On timeout the thread is abandoned (it finishes on its own: every ibkr_core call is
    bounded), and the event loop never waits for it."""
    call = functools.partial(fn, *args, **kwargs)
    with anyio.fail_after(timeout):
        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
