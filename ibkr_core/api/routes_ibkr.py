"""The seed's IBKR connection routes: connect, disconnect, status, account, positions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends

from ibkr_core.account import get_account_summary, get_positions
from ibkr_core.api.deps import ApiContext, context, run_blocking
from ibkr_core.api.models import (
    AccountSummaryResponse,
    ConnectionStatusResponse,
    ConnectRequest,
    ErrorResponse,
    IbkrPosition,
    PositionsResponse,
)
from ibkr_core.connection_errors import NotConnectedError

router = APIRouter(prefix="/api/trading/ibkr", tags=["ibkr"])
Ctx = Annotated[ApiContext, Depends(context)]
NOT_CONNECTED = {503: {"model": ErrorResponse, "description": "Not connected to IBKR"}}


def _require_connected(ctx: ApiContext) -> None:
    if not ctx.ibkr_ready():
        raise NotConnectedError("Not connected to TWS / IB Gateway: POST /api/trading/ibkr/connect")


@router.post(
    "/connect",
    response_model=ConnectionStatusResponse,
    responses={400: {"model": ErrorResponse, "description": "The body is not valid JSON"}},
)
async def connect(ctx: Ctx, body: Annotated[ConnectRequest | None, Body()] = None):
    """Connect to TWS / IB Gateway (defaults: settings' host and port, this server's own
    client id). A failed connect is not an error of this request: the status comes back
    ``disconnected`` with ``last_error`` saying why."""
    body = body or ConnectRequest()
    conn = ctx.services.connection
    timeout = body.timeout or float(ctx.settings.connect_timeout)
    client_id = body.client_id if body.client_id is not None else ctx.client_id
    budget = timeout * (conn.MAX_CLIENT_ID_TRIES + 1) + 5.0
    status = await run_blocking(
        conn.connect, body.host, body.port, client_id, timeout, timeout=budget
    )
    return ConnectionStatusResponse.from_core(status)


@router.post("/disconnect", response_model=ConnectionStatusResponse)
async def disconnect(ctx: Ctx):
    status = await run_blocking(ctx.services.connection.disconnect, timeout=10.0)
    return ConnectionStatusResponse.from_core(status)


@router.get("/status", response_model=ConnectionStatusResponse)
async def status(ctx: Ctx):
    return ConnectionStatusResponse.from_core(ctx.services.connection.status())


@router.get("/account", response_model=AccountSummaryResponse, responses=NOT_CONNECTED)
async def account(ctx: Ctx):
    """Account summary per account (NetLiquidation, TotalCashValue, BuyingPower, ...)."""
    _require_connected(ctx)
    conn = ctx.services.connection
    accounts = await run_blocking(get_account_summary, conn, timeout=ctx.request_timeout)
    return AccountSummaryResponse(accounts=accounts, as_of=datetime.now(UTC))


@router.get("/positions", response_model=PositionsResponse, responses=NOT_CONNECTED)
async def positions(ctx: Ctx):
    """Open positions with live market value and P&L."""
    _require_connected(ctx)
    portfolio = ctx.services.portfolio
    if portfolio is not None:
        rows = await run_blocking(portfolio.positions, timeout=ctx.request_timeout)
        items = [IbkrPosition.model_validate(r, from_attributes=True) for r in rows]
    else:
        conn = ctx.services.connection
        rows = await run_blocking(get_positions, conn, timeout=ctx.request_timeout)
        items = [IbkrPosition.model_validate(r) for r in rows]
    return PositionsResponse(positions=items, count=len(items), as_of=datetime.now(UTC))
