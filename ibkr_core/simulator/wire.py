"""TWS API framing: the `API\\0` handshake, length-prefixed messages, NUL-terminated fields.

Every message after the handshake is a 4-byte big-endian length followed by fields, each
terminated by a NUL byte. This module knows nothing of what the fields mean.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass

HANDSHAKE_PREFIX = b"API\0"
UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

Field = str | int | float | bool | None


# TWS is written in Java and writes an unset double or int as the number itself
# (Double.MAX_VALUE, Integer.MAX_VALUE); IBKR's decoders read both back as "unset"
# (ibapi utils.decode treats "1.7976931348623157E308" and "2147483647" as UNSET).
UNSET_DOUBLE_TEXT = "1.7976931348623157E308"
UNSET_INTEGER_TEXT = "2147483647"


def format_field(value: Field) -> str:
    """One field as TWS writes it: bools as 1/0, None as empty, unset numbers as Java's
    MAX_VALUE texts."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return UNSET_INTEGER_TEXT if value == UNSET_INTEGER else str(value)
    if isinstance(value, float):
        if value == UNSET_DOUBLE:
            return UNSET_DOUBLE_TEXT
        if math.isinf(value):
            return "Infinite"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(round(value, 10))
    return str(value)


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def encode_message(fields: Iterable[Field]) -> bytes:
    """Fields -> one framed message."""
    body = "".join(format_field(f) + "\0" for f in fields)
    return frame(body.encode())


class ProtocolError(Exception):
    """The peer sent something that is not the TWS protocol."""


@dataclass(frozen=True)
class ClientHello:
    """What the client announced in its handshake."""

    min_version: int
    max_version: int
    options: str


def parse_hello(payload: bytes) -> ClientHello:
    """Parse the handshake body, e.g. ``v157..178`` or ``v100..157 +PACEAPI``."""
    text = payload.decode(errors="replace").strip("\0")
    if not text.startswith("v"):
        raise ProtocolError(f"unexpected handshake {text!r}")
    versions, _, options = text[1:].partition(" ")
    low, sep, high = versions.partition("..")
    try:
        min_version = int(low)
        max_version = int(high) if sep else min_version
    except ValueError as exc:
        raise ProtocolError(f"unexpected handshake {text!r}") from exc
    return ClientHello(min_version, max_version, options.strip())


class FrameReader:
    """Accumulates bytes from the socket and yields complete messages as field lists."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.handshake_done = False

    def feed(self, data: bytes) -> None:
        self._buffer.extend(data)

    def read_hello(self) -> ClientHello | None:
        """The handshake: ``API\\0`` followed by one framed version range.

        A client older than v100 opens with its bare version (e.g. ``b"63\\0"``, 3 bytes):
        refused as soon as the first byte differs, never waited on for a 4th byte."""
        head = bytes(self._buffer[: len(HANDSHAKE_PREFIX)])
        if not HANDSHAKE_PREFIX.startswith(head):
            raise ProtocolError(f"legacy or foreign handshake {head!r}: only v100+ is served")
        if len(head) < len(HANDSHAKE_PREFIX):
            return None
        payload = self._take_frame(offset=len(HANDSHAKE_PREFIX))
        if payload is None:
            return None
        self.handshake_done = True
        return parse_hello(payload)

    def messages(self) -> list[list[str]]:
        out = []
        while (payload := self._take_frame()) is not None:
            fields = payload.decode(errors="backslashreplace").split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            out.append(fields)
        return out

    def _take_frame(self, offset: int = 0) -> bytes | None:
        if len(self._buffer) < offset + 4:
            return None
        (size,) = struct.unpack(">I", self._buffer[offset : offset + 4])
        if size > MAX_MESSAGE_BYTES:
            raise ProtocolError(f"message of {size} bytes is too large")
        end = offset + 4 + size
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[offset + 4 : end])
        del self._buffer[:end]
        return payload
