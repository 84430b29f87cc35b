"""``/api/trading/portfolio``: the Portfolio page's numbers (ibkr_core/holdings.py).

``summary`` and ``positions`` take ``?account=`` (an account of this login, or "All";
default: the only account, or all in one currency). Zeros / empty when not connected."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from ibkr_core.api.deps import ApiContext, context, run_blocking
from ibkr_core.api.models import (
    ErrorResponse,
    IbkrPosition,
    PortfolioAccountsResponse,
    PortfolioPositionsResponse,
    PortfolioSummaryResponse,
)
from ibkr_core.portfolio import PortfolioSummary, PortfolioView

router = APIRouter(prefix="/api/trading/portfolio", tags=["portfolio"])
Ctx = Annotated[ApiContext, Depends(context)]
Account = Annotated[
    str | None,
    Query(pattern=r"^[A-Za-z0-9]{1,20}$", description='An account id, or "All"'),
]
ERRORS = {
    400: {"model": ErrorResponse, "description": "Not an account of this login"},
    504: {"model": ErrorResponse},
}


async def _view(ctx: ApiContext, account: str | None) -> PortfolioView:
    portfolio = ctx.services.portfolio
    if not ctx.ibkr_ready():
        return PortfolioView(PortfolioSummary.not_connected(), [], (), False)
    try:
        return await run_blocking(portfolio.view, account, timeout=ctx.request_timeout)
    except ValueError as exc:  # an account this login does not manage
        raise HTTPException(status_code=400, detail=str(exc)) from None


@router.get("/summary", response_model=PortfolioSummaryResponse, responses=ERRORS)
async def summary(ctx: Ctx, account: Account = None):
    """Net liquidation, cash (and per currency), positions value, futures exposure and
    P&L in the account's base currency. When not connected every value is 0 and
    ``source`` is ``"not connected"``."""
    view = await _view(ctx, account)
    return PortfolioSummaryResponse.from_core(view.summary)


@router.get("/positions", response_model=PortfolioPositionsResponse, responses=ERRORS)
async def positions(ctx: Ctx, account: Account = None):
    """Each position in its instrument's currency, with base-currency value and weight."""
    view = await _view(ctx, account)
    items = [IbkrPosition.model_validate(r, from_attributes=True) for r in view.rows]
    return PortfolioPositionsResponse(
        account=view.summary.account,
        base_currency=view.summary.currency,
        positions=items,
        count=len(items),
        as_of=datetime.now(UTC),
    )


@router.get("/accounts", response_model=PortfolioAccountsResponse)
async def accounts(ctx: Ctx):
    """The login's accounts and the Account picker's choices."""
    view = await _view(ctx, None)
    return PortfolioAccountsResponse(accounts=list(view.accounts), choices=list(view.choices))
