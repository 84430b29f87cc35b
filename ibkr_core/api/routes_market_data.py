"""``GET /api/market-data/quote/{symbol}``: one quote through the provider manager
(IBKR when connected, else Yahoo, else Alpha Vantage), with its source and timestamps."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from ibkr_core.api.deps import ApiContext, context, run_blocking
from ibkr_core.api.models import SYMBOL_PATTERN, ErrorResponse, ProblemModel, QuoteResponse
from ibkr_core.symbols import normalize_symbol

router = APIRouter(prefix="/api/market-data", tags=["market-data"])

UNKNOWN_MARKERS = ("unknown symbol", "no matching contract", "no security definition")


def is_unknown_symbol(error: str | None) -> bool:
    text = (error or "").lower()
    return any(marker in text for marker in UNKNOWN_MARKERS)


@router.get(
    "/quote/{symbol}",
    response_model=QuoteResponse,
    responses={
        404: {"model": ErrorResponse, "description": "No source knows the symbol"},
        503: {"model": ErrorResponse, "description": "No source could price it right now"},
    },
)
async def quote(
    ctx: Annotated[ApiContext, Depends(context)],
    symbol: Annotated[str, Path(pattern=SYMBOL_PATTERN, description="e.g. AAPL, BRK.B")],
):
    result = await run_blocking(ctx.services.quotes.get_quote, symbol, timeout=ctx.quote_timeout)
    if not result.ok or result.price is None:
        unknown = is_unknown_symbol(result.error)
        what = "Unknown symbol" if unknown else "No quote for"
        body = ErrorResponse(
            detail=f"{what} {normalize_symbol(symbol)!r}: {result.error}",
            problems=[ProblemModel.from_core(p) for p in result.problems],
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=404 if unknown else 503)
    return QuoteResponse.from_core(result, float(ctx.settings.stale_after))
