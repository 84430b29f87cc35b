"""An optional HTTP + WebSocket API over ibkr_core (FastAPI).

Run it with ``python -m ibkr_core.api`` (127.0.0.1:8000 by default; ``--help``).
In code: ``create_app(build_services(settings))`` returns the ASGI app.

Routes (all behind ``settings.api_token`` as a bearer token when it is set)::

    POST   /api/trading/ibkr/connect            {host?, port?, client_id?, timeout?}
    POST   /api/trading/ibkr/disconnect
    GET    /api/trading/ibkr/status
    GET    /api/trading/ibkr/account             503 when not connected
    GET    /api/trading/ibkr/positions           503 when not connected
    GET    /api/trading/portfolio/summary        zeros, source "not connected", offline
    GET    /api/market-data/quote/{symbol}       404 unknown symbol, 422 malformed
    WS     /api/market-data/stream               see ibkr_core.api.stream
    GET    /api/trading/orders/status            the live-trading lock
    POST   /api/trading/orders/preview           what-if
    POST   /api/trading/orders                   Idempotency-Key header required
    GET    /api/trading/orders[?scope=open|today]
    GET    /api/trading/orders/{order_id}
    DELETE /api/trading/orders/{order_id}
    GET    /api/health
    GET    /openapi.json, /docs
"""

from __future__ import annotations

from ibkr_core.api.app import create_app

__all__ = ["create_app"]
