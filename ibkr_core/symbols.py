"""The one symbol normaliser: every module keys symbols the way IBKR spells them.

``normalize_symbol(" brk.b ") -> "BRK B"``: upper case, trimmed, inner spaces single,
and a one-letter share class after a dot written with a space (IBKR's "BRK B"), so
``BRK.B``, ``brk b`` and ``BRK  B`` are one symbol everywhere (watchlist, quotes, lines,
orders). Providers that spell it otherwise (Yahoo's ``BRK-B``) translate at their edge.
"""

from __future__ import annotations

__all__ = ["normalize_symbol"]


def normalize_symbol(symbol: str | None) -> str:
    key = " ".join((symbol or "").split()).upper()
    head, dot, tail = key.partition(".")
    if dot and head and len(tail) == 1 and tail.isalpha():
        key = f"{head} {tail}"
    return key
