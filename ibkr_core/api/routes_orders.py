"""Order routes over ``OrderService``: trading status, preview, place, cancel, list.

Placing and cancelling sit behind the dashboard's own lock (``trading_status()``: not
connected, read-only, or a LIVE account while live trading is disabled -> refused).
A preview is a what-if (nothing executes) and is allowed whenever IBKR is connected;
its answer says whether placing would be allowed. ``POST /orders`` needs an
``Idempotency-Key`` header: the same key again returns the order sent the first time.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query

from ibkr_core.api.deps import ApiContext, context, run_blocking
from ibkr_core.api.models import (
    ErrorResponse,
    FillResponse,
    InstrumentResponse,
    InstrumentsResponse,
    OrderPreviewResponse,
    OrderRejectedResponse,
    OrderResponse,
    OrdersResponse,
    OrderTicketRequest,
    TradingStatusResponse,
)
from ibkr_core.connection_errors import IBKRError, NotConnectedError
from ibkr_core.orders import CannotCancelError, OrderService, OrderValidationError

router = APIRouter(prefix="/api/trading/orders", tags=["orders"])
Ctx = Annotated[ApiContext, Depends(context)]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not valid JSON"},
    403: {"model": ErrorResponse, "description": "Trading is locked"},
    409: {"model": ErrorResponse, "description": "Idempotency-Key used for another ticket"},
    422: {"model": OrderRejectedResponse, "description": "Malformed or refused ticket"},
    503: {"model": ErrorResponse, "description": "Not connected to IBKR"},
    504: {"model": ErrorResponse, "description": "IBKR did not answer in time"},
}
IDEMPOTENCY_KEY = r"^[A-Za-z0-9._:\-]{8,128}$"


def _orders(ctx: ApiContext) -> OrderService:
    return ctx.services.orders


def _require_connected(ctx: ApiContext) -> None:
    if not ctx.ibkr_ready():
        raise NotConnectedError("Not connected to TWS / IB Gateway: orders need IBKR")


def _trading(ctx: ApiContext, service: Any, currency: str = "") -> TradingStatusResponse:
    status = service.trading_status()
    return TradingStatusResponse(
        allowed=status.allowed,
        reason=status.reason,
        is_paper=status.is_paper,
        live_trading_enabled=bool(ctx.settings.live_trading_enabled),
        max_order_value=float(ctx.settings.max_order_value),
        max_order_value_currency=currency,
    )


def _order(record: Any) -> OrderResponse:
    return OrderResponse.model_validate(record, from_attributes=True)


@router.post("/global-cancel", status_code=202, responses=ERRORS)
async def global_cancel(ctx: Ctx) -> dict[str, str]:
    """TWS's Global Cancel: every open order of the login, whoever placed it."""
    service = _orders(ctx)
    _require_connected(ctx)
    await run_blocking(service.global_cancel, timeout=ctx.request_timeout + 1.0)
    return {"detail": "Global cancel sent: TWS cancels every open order of this login."}


@router.get("/status", response_model=TradingStatusResponse)
async def trading_status(ctx: Ctx):
    """Whether orders may be sent now, and why not; the per-order limit in the account's
    base currency."""
    service = _orders(ctx)
    currency = ""
    if ctx.ibkr_ready():
        currency = await run_blocking(service.base_currency, timeout=ctx.request_timeout)
    return _trading(ctx, service, currency)


@router.post("/preview", response_model=OrderPreviewResponse, responses=ERRORS)
async def preview(ctx: Ctx, ticket: OrderTicketRequest):
    """Commission and margin impact from TWS (what-if; nothing executes)."""
    service = _orders(ctx)
    _require_connected(ctx)
    try:
        result = await run_blocking(service.preview, ticket.to_core(), timeout=ctx.request_timeout)
    except IBKRError as exc:
        if isinstance(exc, NotConnectedError | OrderValidationError):
            raise
        # TWS said no to this ticket (e.g. a price far from the market): the ticket's fault
        raise HTTPException(422, str(exc)) from exc
    fields = {k: getattr(result, k) for k in OrderPreviewResponse.model_fields if k != "trading"}
    fields["instrument"] = _instrument(result.instrument) if result.instrument else None
    fields["trading"] = _trading(ctx, service)
    return OrderPreviewResponse(**fields)


def _instrument(inst: Any) -> InstrumentResponse:
    return InstrumentResponse.model_validate(inst, from_attributes=True)


@router.get(
    "/instruments",
    response_model=InstrumentsResponse,
    responses={**ERRORS, 404: {"model": ErrorResponse, "description": "Unknown symbol"}},
)
async def instruments(
    ctx: Ctx,
    symbol: Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9 .\-]+$")],
):
    """Every instrument IBKR lists for ``symbol`` (any type, exchange, currency): pass
    the chosen one's ``con_id`` with the ticket when there is more than one."""
    service = _orders(ctx)
    _require_connected(ctx)
    found = await run_blocking(service.instruments, symbol, timeout=ctx.request_timeout + 1.0)
    return InstrumentsResponse(symbol=symbol, instruments=[_instrument(i) for i in found])


@router.post("", response_model=OrderResponse, status_code=201, responses=ERRORS)
async def place(
    ctx: Ctx,
    ticket: OrderTicketRequest,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            pattern=IDEMPOTENCY_KEY,
            description="8-128 chars [A-Za-z0-9._:-]; reuse it to retry safely.",
        ),
    ],
):
    """Send an order once per idempotency key (a retry returns the first order; the same
    key with a different ticket is 409)."""
    service = _orders(ctx)
    _require_connected(ctx)
    record = await run_blocking(
        service.place, ticket.to_core(), idempotency_key, timeout=ctx.request_timeout + 2.0
    )
    return _order(record)


@router.get("", response_model=OrdersResponse, responses={503: {"model": ErrorResponse}})
async def list_orders(
    ctx: Ctx,
    scope: Annotated[
        Literal["open", "today"], Query(description="open: working only; today: all of today")
    ] = "open",
):
    """Orders (working ones, or all of today's) and today's fills."""
    service = _orders(ctx)

    def read() -> tuple[list[Any], list[Any]]:  # takes the service's lock: off the loop
        orders = service.open_orders() if scope == "open" else service.recent_orders()
        return orders, service.fills()

    orders, fills = await run_blocking(read, timeout=ctx.request_timeout)
    return OrdersResponse(
        orders=[_order(r) for r in orders],
        fills=[FillResponse.model_validate(f, from_attributes=True) for f in fills],
        trading=_trading(ctx, service),
    )


@router.get("/{order_id}", response_model=OrderResponse, responses={404: {"model": ErrorResponse}})
async def get_order(ctx: Ctx, order_id: Annotated[int, Path(ge=0, le=2_147_483_647)]):
    record = await run_blocking(_orders(ctx).order, order_id, timeout=ctx.request_timeout)
    if record is None:
        raise HTTPException(404, f"No order with id {order_id} in this session")
    return _order(record)


@router.delete(
    "/{order_id}",
    response_model=OrderResponse,
    responses={**ERRORS, 404: {"model": ErrorResponse, "description": "Unknown order"}},
)
async def cancel(ctx: Ctx, order_id: Annotated[int, Path(ge=0, le=2_147_483_647)]):
    """Cancel a working order (a finished one comes back unchanged)."""
    service = _orders(ctx)
    _require_connected(ctx)
    try:
        record = await run_blocking(service.cancel, order_id, timeout=ctx.request_timeout + 3.0)
    except CannotCancelError as exc:  # entered in TWS / by another client: say so
        raise HTTPException(409, str(exc)) from exc
    return _order(record)
