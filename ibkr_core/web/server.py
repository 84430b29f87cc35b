"""The one-process server: the dashboard, the HTTP API and the live streams on one port.

``streamlit_app.py`` holds ``app = st.App(__file__, **app_options())``; ``streamlit run
streamlit_app.py`` finds it and serves, next to Streamlit's own routes:

- the FastAPI app of ``ibkr_core.api`` under its own paths (``/api/...``, ``/docs``,
  ``/openapi.json``), over the dashboard's ``Services`` (one IBKR connection);
- the live push stream ``/api/live`` (``ibkr_core.web.live``) the dashboard's
  component subscribes to, and the API's quote stream ``/api/market-data/stream``;
- ``SecurityMiddleware`` in front of everything (Host allow-list, Origin / CSRF).

Startup and shutdown go through the app's lifespan: it builds the process's
``Services`` with ``get_services()``, the same object ``st.cache_resource`` hands the
pages, and closes it when the server stops.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Receive, Scope, Send

from ibkr_core.settings import Settings
from ibkr_core.web.security import AccessPolicy, SecurityMiddleware, install_log_redaction

__all__ = ["API_DOC_PATHS", "ApiMount", "app_options"]

log = logging.getLogger(__name__)

API_DOC_PATHS = ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc")


class ApiMount(BaseRoute):
    """Hands requests under the API's paths to the FastAPI app with the path unchanged
    (its routes keep their full ``/api/...`` paths, so both servers share one table).
    The app is built in the lifespan, once the services exist; before that: 503."""

    path = "/api"  # what st.App checks against its reserved prefixes

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket"):
            path = scope.get("path", "")
            if path.startswith("/api/") or path in API_DOC_PATHS:
                return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1013})
                return
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"starting"})
            return
        await self.app(scope, receive, send)


def _declare_navigation() -> None:
    """Tell Streamlit, before any session starts, that this app's pages come from
    ``st.navigation`` (``streamlit_app.py``), so the ``pages/`` folder is never read as
    legacy pages: no visitor's first frame lists them, and a deep link runs through the
    entry point (password gate, sidebar). ``st.navigation`` is the public switch; outside
    a script run it only records that (and warns that there is no script context)."""
    import streamlit as st

    context_log = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = context_log.level
    context_log.setLevel(logging.ERROR)
    try:
        st.navigation([st.Page(_no_page, title="IBKR dashboard")], position="hidden")
    finally:
        context_log.setLevel(level)


def _no_page() -> None:
    """Placeholder page of the startup navigation declaration (never run)."""


def app_options(settings_loader: Callable[[], Settings] = Settings.load) -> dict[str, Any]:
    """``st.App`` keyword arguments: routes, middleware and lifespan of the dashboard."""
    settings = settings_loader()
    mount = ApiMount()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
        from ibkr_core.api.app import create_app
        from ibkr_core.services import get_services, reset_services

        install_log_redaction()
        _declare_navigation()
        services = await anyio.to_thread.run_sync(get_services)
        api = create_app(services, client_id=services.settings.client_id, security=False)
        mount.app = api
        log.info("dashboard, API and streams on one port; one IBKR connection")
        try:
            yield {"services": services}
        finally:
            mount.app = None
            hub = api.state.api.hub
            if hub is not None:
                with contextlib.suppress(Exception):
                    await hub.stop()
            await anyio.to_thread.run_sync(reset_services)

    policy = AccessPolicy.from_lists(settings.allowed_hosts, settings.allowed_origins)
    return {
        "routes": [mount],
        "middleware": [Middleware(SecurityMiddleware, policy=policy)],
        "lifespan": lifespan,
    }
