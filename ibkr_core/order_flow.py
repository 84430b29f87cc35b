"""Preview, then confirm exactly once: the trade workflow every front end shares.

Public API::

    pending = start(orders, ticket)            # validate + what-if; raises like preview()
    stale_reason(orders, pending, ticket)      # None while confirming it is allowed
    record = confirm(orders, pending, ticket)  # sends once; raises StalePreviewError

A ``PendingOrder`` is what the trader saw: the ticket, TWS's what-if answer, a fresh
idempotency key, and what the preview is bound to (the connection session, the account
and its paper/live kind, a short validity). Confirming re-checks all of it: after a
reconnect, a switch to another gateway or account (e.g. from the paper Demo to a live
account, from any browser tab: the connection is shared) or once the preview is older
than ``PREVIEW_VALID_SECONDS``, nothing is sent and the trader previews again. The key
makes a second confirm of the same preview (double click, rerun, second thread) return
the first order instead of sending another.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ibkr_core.order_book import OrderRecord
from ibkr_core.order_checks import OrderPreview, StalePreviewError
from ibkr_core.order_ticket import OrderTicket

if TYPE_CHECKING:
    from ibkr_core.orders import OrderService

__all__ = ["PREVIEW_VALID_SECONDS", "PendingOrder", "confirm", "stale_reason", "start"]

PREVIEW_VALID_SECONDS = 60.0  # prices and margin move: an older preview is previewed again


@dataclass(frozen=True)
class PendingOrder:
    ticket: OrderTicket
    preview: OrderPreview
    key: str  # the idempotency key this preview's order is sent with
    expires_at: float  # time.monotonic() deadline for confirming

    def seconds_left(self, now: float | None = None) -> float:
        return max(0.0, self.expires_at - (time.monotonic() if now is None else now))


def start(
    orders: OrderService, ticket: OrderTicket, valid_for: float = PREVIEW_VALID_SECONDS
) -> PendingOrder:
    """Preview ``ticket`` (nothing is sent) and bind it for a later ``confirm``."""
    preview = orders.preview(ticket)
    return PendingOrder(ticket, preview, uuid.uuid4().hex, time.monotonic() + valid_for)


def stale_reason(orders: OrderService, pending: PendingOrder, ticket: OrderTicket) -> str | None:
    """Why ``pending`` may no longer be confirmed for ``ticket`` (None: it may)."""
    if pending.ticket != ticket:
        return "The ticket changed after the preview: preview it again."
    if pending.seconds_left() <= 0:
        return (
            f"The preview is older than {PREVIEW_VALID_SECONDS:g} s (prices and margin "
            "move): preview it again."
        )
    status = orders.connection_status()
    if not status.connected or status.session_id != pending.preview.session_id:
        return (
            "The IBKR connection changed since the preview (a reconnect, or another "
            "gateway / account): preview the order again."
        )
    if pending.preview.account and pending.preview.account not in status.accounts:
        return (
            f"The preview was for account {pending.preview.account}; this connection is "
            f"{', '.join(status.accounts)}: preview the order again."
        )
    return None


def confirm(orders: OrderService, pending: PendingOrder, ticket: OrderTicket) -> OrderRecord:
    """Send the previewed order once. Raises ``StalePreviewError`` (nothing sent) when
    the preview no longer holds, else what ``OrderService.place`` raises."""
    reason = stale_reason(orders, pending, ticket)
    if reason is not None:
        raise StalePreviewError(f"Nothing was sent. {reason}")
    return orders.place(pending.ticket, pending.key, bound_to=pending.preview)
