"""``GET /api/trading/portfolio/summary``: IBKR values when connected, zeros otherwise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ibkr_core.api.deps import ApiContext, context, run_blocking
from ibkr_core.api.models import ErrorResponse, PortfolioSummaryResponse
from ibkr_core.portfolio import PortfolioSummary

router = APIRouter(prefix="/api/trading/portfolio", tags=["portfolio"])


@router.get(
    "/summary",
    response_model=PortfolioSummaryResponse,
    responses={504: {"model": ErrorResponse}},
)
async def summary(ctx: Annotated[ApiContext, Depends(context)]):
    """Net liquidation, cash, positions count / value and P&L. When not connected every
    value is 0 and ``source`` is ``"not connected"`` (the seed's behaviour)."""
    portfolio = ctx.services.portfolio
    if portfolio is None or not ctx.ibkr_ready():
        return PortfolioSummaryResponse.from_core(PortfolioSummary.not_connected())
    result = await run_blocking(portfolio.portfolio_summary, timeout=ctx.request_timeout)
    return PortfolioSummaryResponse.from_core(result)
