"""``create_app(services)``: the FastAPI app over an ibkr_core ``Services`` set.

The app never builds services itself (``__main__`` does, and tests pass their own), so
one process can serve the API next to anything else holding the same ``Services``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from ibkr_core.api import routes_ibkr, routes_market_data, routes_orders, routes_portfolio, stream
from ibkr_core.api.auth import AuthMiddleware
from ibkr_core.api.deps import ApiContext, context
from ibkr_core.api.errors import install_error_handlers
from ibkr_core.api.models import HealthResponse
from ibkr_core.web import live
from ibkr_core.web.security import AccessPolicy, SecurityMiddleware
from ibkr_core.web.tokens import Credentials

if TYPE_CHECKING:
    from ibkr_core.services import Services

__all__ = [
    "API_CLIENT_ID_OFFSET",
    "API_VERSION",
    "access_policy",
    "create_app",
    "credentials_for",
]

API_VERSION = "1.0.0"
API_CLIENT_ID_OFFSET = 100  # the API server's IBKR client id: settings.client_id + 100


def create_app(
    services: Services,
    *,
    client_id: int | None = None,
    heartbeat_interval: float = 15.0,
    stream_interval: float | None = None,
    own_services: bool = False,
    security: bool = True,
) -> FastAPI:
    """The API over ``services``.

    ``client_id``: the IBKR client id ``POST /connect`` uses by default (default:
    ``settings.client_id + 100``, so the API never takes the dashboard's session).
    ``heartbeat_interval`` / ``stream_interval``: WebSocket heartbeat period and the
    quote stream's longest wait between reads (default: settings.refresh_interval).
    ``own_services``: close ``services`` when the app shuts down.
    ``security``: put ``SecurityMiddleware`` (Host allow-list, Origin / CSRF checks) in
    front; False when the app is served inside one that already has it (the dashboard).
    """
    settings = services.settings
    api = ApiContext(
        services=services,
        client_id=int(
            client_id if client_id is not None else settings.client_id + API_CLIENT_ID_OFFSET
        ),
        heartbeat_interval=float(heartbeat_interval),
        credentials=credentials_for(settings),
    )
    api.hub = stream.QuoteHub(services, interval=stream_interval)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if api.hub is not None:
                await api.hub.stop()
            if own_services:
                await anyio.to_thread.run_sync(services.close)

    app = FastAPI(
        title="IBKR dashboard API",
        version=API_VERSION,
        description=(
            "The dashboard's ibkr_core over HTTP: IBKR connection, account, positions, "
            "portfolio summary, quotes (IBKR, else Yahoo, else Alpha Vantage), orders, "
            "and a WebSocket quote stream at " + stream.STREAM_PATH + "."
        ),
        lifespan=lifespan,
    )
    app.state.api = api
    install_error_handlers(app)
    for module in (routes_ibkr, routes_portfolio, routes_market_data, routes_orders):
        app.include_router(module.router)
    app.include_router(stream.router)
    app.include_router(live.router)

    @app.get("/api/health", response_model=HealthResponse, tags=["meta"])
    async def health(ctx: Annotated[ApiContext, Depends(context)]) -> HealthResponse:
        return HealthResponse(ok=True, ibkr_connected=ctx.ibkr_ready(), version=API_VERSION)

    if api.credentials.required:
        app.add_middleware(AuthMiddleware, credentials=api.credentials)
        _document_bearer(app)
    if security:
        app.add_middleware(SecurityMiddleware, policy=access_policy(settings))
    return app


def credentials_for(settings: Any) -> Credentials:
    """The API token, and with a dashboard password the signed-in sessions' tokens."""
    return Credentials(api_token=settings.api_token, password_set=bool(settings.dashboard_password))


def access_policy(settings: Any) -> AccessPolicy:
    return AccessPolicy.from_lists(settings.allowed_hosts, settings.allowed_origins)


def _document_bearer(app: FastAPI) -> None:
    """Say in the OpenAPI document that every operation needs the bearer token."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {})
            components["securitySchemes"] = {"bearerToken": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearerToken": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
