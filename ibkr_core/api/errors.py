"""ibkr_core's exceptions -> HTTP answers with a plain ``detail`` message.

- not connected -> 503 (IBKR is required for this route)
- trading locked -> 403 (or 503 when the lock is just "not connected")
- a ticket OrderService refused -> 422 with the issues per field
- a malformed request -> 422 (FastAPI's answer; NaN / Infinity in it echoed as text, so
  the answer is valid JSON instead of a 500)
- an idempotency key reused for a different ticket -> 409
- unknown order / symbol -> 404
- our outer deadline or IBKR's own timeout -> 504
- anything else IBKR said no to -> 502
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
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


def _finite(value: Any) -> Any:
    """``value`` with every NaN / ±inf replaced by its text (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return _error(422, _finite(jsonable_encoder(errors)))  # type: ignore[arg-type]


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(NotConnectedError, _not_connected)
    app.add_exception_handler(UnknownSymbolError, _unknown_symbol)
    app.add_exception_handler(TimeoutError, _timeout)
    try:
        from ibkr_core.orders import (
            IdempotencyConflictError,
            OrderNotFoundError,
            OrderValidationError,
            TradingLockedError,
        )
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

        async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
            return _error(409, str(exc))

        app.add_exception_handler(OrderNotFoundError, _not_found)
        app.add_exception_handler(IdempotencyConflictError, _conflict)
    app.add_exception_handler(IBKRError, _ibkr_error)
