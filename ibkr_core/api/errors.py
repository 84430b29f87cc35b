"""ibkr_core's exceptions -> HTTP answers with a plain ``detail`` message.

- not connected -> 503 (IBKR is required for this route)
- trading locked -> 403 (or 503 when the lock is just "not connected")
- a ticket OrderService refused -> 422 with the issues per field
- unknown order / symbol -> 404
- our outer deadline or IBKR's own timeout -> 504
- anything else IBKR said no to -> 502
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ibkr_core.connection_errors import IBKRError, NotConnectedError, UnknownSymbolError

log = logging.getLogger(__name__)


def _error(status: int, detail: str, **extra: object) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


async def _not_connected(_request: Request, exc: Exception) -> JSONResponse:
    return _error(503, str(exc) or "Not connected to TWS / IB Gateway")


async def _unknown_symbol(_request: Request, exc: Exception) -> JSONResponse:
    return _error(404, str(exc))


async def _timeout(_request: Request, exc: Exception) -> JSONResponse:
    message = str(exc) or "IBKR did not answer in time"
    return _error(504, f"Timed out: {message}")


async def _ibkr_error(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("IBKR error answered as 502: %s", exc)
    return _error(502, str(exc) or type(exc).__name__)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotConnectedError, _not_connected)
    app.add_exception_handler(UnknownSymbolError, _unknown_symbol)
    app.add_exception_handler(TimeoutError, _timeout)
    try:
        from ibkr_core.orders import OrderNotFoundError, OrderValidationError, TradingLockedError
    except ImportError:  # the order service is optional
        pass
    else:

        async def _locked(_request: Request, exc: Exception) -> JSONResponse:
            status = getattr(exc, "status", None)
            from ibkr_core.orders import NOT_CONNECTED_REASON

            if status is not None and status.reason == NOT_CONNECTED_REASON:
                return _error(503, str(exc))
            return _error(403, f"Trading is locked: {exc}")

        async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
            issues = [{"field": i.field, "message": i.message} for i in exc.issues]  # type: ignore[attr-defined]
            return _error(422, f"Order rejected: {exc}", issues=issues)

        async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
            return _error(404, str(exc))

        app.add_exception_handler(TradingLockedError, _locked)
        app.add_exception_handler(OrderValidationError, _invalid)
        app.add_exception_handler(OrderNotFoundError, _not_found)
    app.add_exception_handler(IBKRError, _ibkr_error)
