"""The simulated gateway across the whole advertised range (100..178), read by IBKR's own
decoders with a strict check (no field left over, none missing), plus the handshake and
malformed requests.

Clients: `ibapi` 9.81 (negotiates 157, from site-packages) and IBKR's 10.x client as
published in nautilus_ibapi: 10.19.4 (176) and 10.46.1 (178). Both 10.x versions install
as the package `ibapi`, like 9.81, so scripts/test.sh installs each into
.clients/nautilus_ibapi-<version> and each run gets its own process with that folder first
on PYTHONPATH (tests/official_client.py). Lower versions are covered by capping the
client's handshake (MAX_CLIENT_VER).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ibkr_core.simulator import BackgroundGateway, SimConfig, start_in_background
from ibkr_core.simulator.wire import encode_message
from tests.sim_support import one_day_bars_during

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / ".clients"
UNSET_DOUBLE = 1.7976931348623157e308


@pytest.fixture
def gw() -> Iterator[BackgroundGateway]:
    gateway = start_in_background(seed=5, port=0, config=SimConfig(tick_interval=0.1))
    try:
        yield gateway
    finally:
        gateway.stop()


def client_path(name: str) -> str | None:
    """'' for the site-packages ibapi (9.81); a folder for a nautilus_ibapi version."""
    if name == "9.81":
        pytest.importorskip("ibapi")
        return ""
    folder = CLIENTS / f"nautilus_ibapi-{name}"
    if not (folder / "ibapi").is_dir():
        pytest.skip(f"{folder} missing: run scripts/test.sh (it installs the official clients)")
    return str(folder)


def run_official(gw: BackgroundGateway, name: str, cap: int | None = None) -> dict[str, Any]:
    path = client_path(name)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (path, str(ROOT)) if p)}
    args = [sys.executable, str(ROOT / "tests" / "official_client.py"), str(gw.port), "41"]
    if cap is not None:
        args += ["--max-version", str(cap)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=80)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def statuses(result: dict[str, Any], order_id: int) -> list[str]:
    return [s[0] for s in result["statuses"].get(str(order_id), [])]


RANK = {"PendingSubmit": 0, "PreSubmitted": 1, "Submitted": 2, "PendingCancel": 3}


def never_backwards(seq: list[str]) -> bool:
    ranks = [RANK.get(s, 9) for s in seq]
    return ranks == sorted(ranks)


CASES = [
    ("9.81", None, 157),
    ("10.19.4", None, 176),
    ("10.46.1", None, 178),
    ("10.46.1", 100, 100),
    ("10.46.1", 124, 124),
    ("10.46.1", 145, 145),
    ("10.46.1", 151, 151),
    ("9.81", 123, 123),
    ("9.81", 130, 130),
    ("9.81", 135, 135),
    ("9.81", 144, 144),
]


@pytest.mark.parametrize(("client", "cap", "version"), CASES, ids=[f"{c}@{v}" for c, _, v in CASES])
def test_official_clients_decode_every_message_exactly(gw, client, cap, version):
    gw.stop_ticks("AAPL")  # its quote holds still while the client reads it
    quote = gw.quote("AAPL")
    started = time.time()
    r = run_official(gw, client, cap)
    assert r["version"] == version
    assert r["failures"] == [], r["failures"]
    client_side = [e for e in r["errors"] if 500 <= e[1] < 600]
    assert client_side == [], client_side
    market_id, limit_id, what_if_id = r["ids"]
    # market order: in TWS's order, its execution and commission before Filled
    assert statuses(r, market_id) == ["PreSubmitted", "Submitted", "Filled"]
    seq = r["sequence"]
    filled_at = seq.index(f"orderStatus:{market_id}:Filled")
    assert seq.index(f"execDetails:{market_id}") < seq.index("commission") < filled_at
    assert r["commissions"][0]["realizedPNL"] == UNSET_DOUBLE  # opening trade: unset
    # limit order cancelled: ... PendingCancel, Cancelled, then error 202
    assert statuses(r, limit_id)[-2:] == ["PendingCancel", "Cancelled"]
    assert never_backwards(statuses(r, limit_id)[:-1])
    cancelled_at = seq.index(f"orderStatus:{limit_id}:Cancelled")
    assert seq.index(f"error:{limit_id}:202") > cancelled_at
    assert what_if_id in map(int, r["open_states"])
    # data at every version
    [details] = r["details"]
    assert details["conId"] == 265598 and details["primaryExchange"] == "NASDAQ"
    assert details["stockType"] == ("COMMON" if version >= 152 else "")
    assert details["marketRuleIds"] == ("26" if version >= 126 else "")
    assert r["bars"] in one_day_bars_during(3600, started)  # 09:30..16:00 hourly: 7
    assert (r["prices"]["1"], r["prices"]["2"]) == (quote.bid, quote.ask)
    # stock sizes in round lots of 100 below MIN_SERVER_VER_MARKET_DATA_IN_SHARES (159)
    lot = 100 if version < 159 else 1
    assert (r["sizes"]["0"], r["sizes"]["3"]) == (quote.bid_size / lot, quote.ask_size / lot)
    assert r["account_values"] > 10 and r["portfolio"] >= 4 and r["positions"] >= 4
    if version >= 127:
        assert len(r["pnl"]) == 3 and (r["pnl"][2] is None) == (version < 135)
    assert {"account", "positions", "summary", "executions", "openOrderEnd"} <= set(r["done"])


# --- raw sockets: the handshake and malformed requests ------------------------------------


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def read_message(sock: socket.socket) -> list[str]:
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            raise ConnectionError("closed")
        head += chunk
    (size,) = struct.unpack(">I", head)
    body = b""
    while len(body) < size:
        body += sock.recv(size - len(body))
    return body.decode().split("\0")[:-1]


def raw_session(gw: BackgroundGateway, version: int = 178, client_id: int = 61) -> socket.socket:
    sock = socket.create_connection((gw.host, gw.port), timeout=3)
    sock.sendall(b"API\0" + frame(f"v100..{version}".encode()))
    assert read_message(sock)[0] == str(version)
    sock.sendall(encode_message([71, 2, client_id, ""]))  # START_API
    return sock


def messages_until(sock: socket.socket, want: str, seconds: float = 3) -> list[list[str]]:
    seen: list[list[str]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fields = read_message(sock)
        seen.append(fields)
        if fields[0] == want:
            return seen
    raise AssertionError(f"no message {want} in {seen}")


@pytest.mark.parametrize(
    "hello",
    [b"63\0", b"API\0" + frame(b"v70..99")],
    ids=["legacy-3-bytes", "no-common-version"],
)
def test_pre_v100_client_is_refused_promptly_not_hung(gw, hello):
    with socket.create_connection((gw.host, gw.port), timeout=3) as sock:
        started = time.monotonic()
        sock.sendall(hello)  # b"63\0": the legacy handshake, the bare client version
        assert sock.recv(100) == b""  # closed by the gateway
        assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        # PLACE_ORDER whose fields are not numbers where numbers belong
        ([3, 501, "x", "AAPL", "STK", "", "junk"], 320),
        # truncated PLACE_ORDER
        ([3, 502, 0, "AAPL"], 320),
        # a combo order, well formed but not simulated
        (
            [
                3,
                503,
                0,
                "SPREAD",
                "BAG",
                "",
                "",
                "",
                "",
                "SMART",
                "",
                "USD",
                "",
                "",
                "",
                "",
                "BUY",
                1,
                "MKT",
                "",
                "",
                "DAY",
                "",
                "",
                "",
                0,
                "",
                1,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            ],
            321,
        ),
    ],
    ids=["garbage", "truncated", "combo"],
)
def test_a_malformed_request_is_answered_and_the_session_goes_on(gw, fields, code):
    with raw_session(gw) as sock:
        messages_until(sock, "9")  # nextValidId: the session is up
        sock.sendall(encode_message(fields))
        sock.sendall(encode_message([49, 1]))  # REQ_CURRENT_TIME
        seen = messages_until(sock, "49")  # answered after the bad request: still up
        clients = gw.client_count()
    errors = [f for f in seen if f[0] == "4" and f[3] == str(code)]
    assert errors, seen
    assert errors[0][2] == str(fields[1])  # reported under the request's order id
    assert clients == 1
