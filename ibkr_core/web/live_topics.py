"""The ``/api/live`` topics beyond quotes: the Portfolio page's figures and the Trade
page's open orders and fills, each as "what changed since the last message".

    portfolio = PortfolioTopic(account)       # None: the only account / all
    part = portfolio.diff(view)               # {"cards": [...], "positions": {...}, ...}
    orders = OrdersTopic(cursor)
    part = orders.diff(open_orders, fills, events)

A part is ``None`` when nothing changed. Every figure is text written by
``ibkr_core/figures.py`` (the pages' own wording and currencies), so the browser only
places it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ibkr_core.figures import (
    cash_cells,
    cash_total_text,
    fill_cells,
    finished_cells,
    metric_cards,
    order_cells,
    position_cells,
)
from ibkr_core.order_book import group_brackets

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ibkr_core.order_book import FillRecord, OrderEvent, OrderRecord
    from ibkr_core.portfolio import PortfolioView

__all__ = ["OrdersTopic", "PortfolioTopic", "SentRows"]

Rows = dict[str, dict[str, Any]]


@dataclass
class SentRows:
    """What one keyed table has sent so far; ``put`` adds to a message what changed."""

    rows: Rows = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def put(
        self,
        part: dict[str, Any],
        rows: Rows,
        names: tuple[str, str | None, str],
        *,
        order_always: bool = False,
    ) -> None:
        """``names``: (changed rows, removed keys or None, row order) as the message calls
        them; the order goes out when it changed (or ``order_always``)."""
        changed_name, removed_name, order_name = names
        changed = {k: v for k, v in rows.items() if self.rows.get(k) != v}
        removed = [k for k in self.rows if k not in rows]
        order = list(rows)
        if changed:
            part[changed_name] = changed
        if removed and removed_name:
            part[removed_name] = removed
        if order != self.order or order_always:
            part[order_name] = order
        self.rows, self.order = dict(rows), order


@dataclass
class PortfolioTopic:
    account: str | None
    sent_cards: list[dict[str, Any]] | None = None
    sent_header: dict[str, Any] | None = None
    positions: SentRows = field(default_factory=SentRows)
    cash: SentRows = field(default_factory=SentRows)
    sent_cash_total: str | None = None

    def diff(self, view: PortfolioView) -> dict[str, Any] | None:
        s = view.summary
        part: dict[str, Any] = {}
        header = {"account": self.account, "base": s.currency, "connected": s.connected}
        if self.sent_header is None:
            part["reset"] = True  # a new topic: every row follows, forget the old ones
        if header != self.sent_header:
            part.update(header)
            self.sent_header = header
        cards = [asdict(c) for c in metric_cards(s, view.rows)]
        if cards != self.sent_cards:
            part["cards"] = self.sent_cards = cards
        rows = {c["key"]: c for c in (position_cells(r, s.currency) for r in view.rows)}
        self.positions.put(part, rows, ("positions", "removed", "order"))
        cash = {c["key"]: c for c in (cash_cells(line, s.currency) for line in s.cash)}
        self.cash.put(part, cash, ("cash", "cash_removed", "cash_order"))
        total = cash_total_text(s) if s.cash else ""
        if total != self.sent_cash_total:
            part["cash_total"] = self.sent_cash_total = total
        return part or None


@dataclass
class OrdersTopic:
    cursor: int
    open: SentRows = field(default_factory=SentRows)
    fills: SentRows = field(default_factory=SentRows)
    finished: SentRows = field(default_factory=SentRows)
    first: bool = True

    def diff(
        self,
        open_orders: list[OrderRecord],
        fills: list[FillRecord],
        events: list[OrderEvent],
        cursor: int,
        recent: Sequence[OrderRecord] = (),  # today's orders, newest first (the finished ones)
    ) -> dict[str, Any] | None:
        part: dict[str, Any] = {}
        rows = {
            c["key"]: c for c in (order_cells(r, child) for r, child in group_brackets(open_orders))
        }
        self.open.put(part, rows, ("open", "closed", "open_order"), order_always=self.first)
        fill_rows = {c["key"]: c for c in (fill_cells(f) for f in reversed(fills))}  # newest first
        self.fills.put(part, fill_rows, ("fills", None, "fill_order"), order_always=self.first)
        done = {
            c["key"]: c for c in (finished_cells(r) for r, _ in group_brackets(recent) if r.is_done)
        }
        names = ("finished", "finished_removed", "finished_order")
        self.finished.put(part, done, names, order_always=self.first)
        if events:
            part["events"] = [{"kind": e.kind, "message": e.message} for e in events]
        self.cursor = cursor
        self.first = False
        return part or None
