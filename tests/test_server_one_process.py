"""The README's run command (`streamlit run streamlit_app.py`) as one process: dashboard,
HTTP API, OpenAPI docs and the streams on one port over one IBKR connection, with the
Host / Origin / CSRF / token rules in front of all of it (Streamlit's own routes too).

Real servers on free 127.0.0.1 ports; a simulated gateway; no browser (see
tests/test_push_browser.py for what a browser sees).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.browser_helpers import StreamlitServer

pytestmark = pytest.mark.timeout(120)

API_TOKEN = "sekret-token-4711"
PASSWORD = "pw-one-process"
REBIND = "rebind.attacker.example"


@pytest.fixture(scope="module")
def open_server(tmp_path_factory) -> Iterator[StreamlitServer]:
    tmp = tmp_path_factory.mktemp("one")
    env = {"IBKR_WATCHLIST_FILE": str(tmp / "w.json"), "IBKR_CLIENT_ID": "5"}
    with StreamlitServer(env=env) as server:
        yield server


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory) -> Iterator[StreamlitServer]:
    tmp = tmp_path_factory.mktemp("locked")
    env = {
        "IBKR_WATCHLIST_FILE": str(tmp / "w.json"),
        "IBKR_DASHBOARD_PASSWORD": PASSWORD,
        "IBKR_API_TOKEN": API_TOKEN,
    }
    with StreamlitServer(env=env) as server:
        yield server


def handshake(server: StreamlitServer, path: str, host: str | None = None, origin: str = "") -> int:
    """The HTTP status a WebSocket upgrade gets (101: accepted)."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{server.port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


def ws_url(server: StreamlitServer, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


def test_one_port_serves_the_dashboard_the_api_its_docs_and_the_streams(open_server):
    base = open_server.url
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/").status_code == 200  # the dashboard
        assert http.get("/_stcore/health").status_code == 200
        health = http.get("/api/health").json()
        assert health["ok"] is True
        paths = http.get("/openapi.json").json()["paths"]
        assert "/api/trading/ibkr/status" in paths and "/api/trading/orders" in paths
        assert http.get("/docs").status_code == 200
        quote = http.get("/api/market-data/quote/not a symbol!")
        assert quote.status_code == 422
    for path in ("/api/live", "/api/market-data/stream", "/_stcore/stream"):
        assert handshake(open_server, path, origin=base) == 101, path


def test_the_api_and_the_push_stream_share_the_dashboards_connection(open_server):
    from ibkr_core.simulator import start_in_background

    gw = start_in_background(seed=5, port=0)
    try:
        with httpx.Client(base_url=open_server.url, timeout=30) as http:
            body = {"host": "127.0.0.1", "port": gw.port}
            status = http.post("/api/trading/ibkr/connect", json=body).json()
            assert status["connected"], status
            assert status["client_id"] == 5  # the dashboard's own id: one session, not two
            with connect(ws_url(open_server, "/api/live"), open_timeout=5) as ws:
                first = json.loads(ws.recv(timeout=5))
                assert first["status"]["state"] == "connected"
                assert first["status"]["accounts"] == status["accounts"]
                ws.send(json.dumps({"action": "subscribe", "symbols": ["AAPL"]}))
                sources = []
                while "ibkr-live" not in sources:  # the first read may come before a tick
                    message = json.loads(ws.recv(timeout=10))
                    if "AAPL" in message.get("quotes", {}):
                        sources.append(message["quotes"]["AAPL"]["source"])
                    assert len(sources) < 20, sources
            assert http.post("/api/trading/ibkr/disconnect", json={}).status_code == 200
    finally:
        gw.stop()


def test_a_foreign_host_is_refused_on_the_dashboard_and_the_api(open_server):
    """DNS rebinding: the attacker's name resolves to 127.0.0.1; Host gives it away."""
    with httpx.Client(base_url=open_server.url, timeout=10) as http:
        for path in ("/", "/api/trading/ibkr/account", "/api/health", "/_stcore/health"):
            r = http.get(path, headers={"Host": REBIND})
            assert r.status_code == 403, path
    for path in ("/_stcore/stream", "/api/live", "/api/market-data/stream"):
        assert handshake(open_server, path, host=REBIND, origin=f"http://{REBIND}") == 403, path


def test_cross_origin_posts_and_websockets_are_refused(open_server):
    evil = "http://evil.example"
    with httpx.Client(base_url=open_server.url, timeout=10) as http:
        r = http.post(
            "/api/trading/ibkr/disconnect",
            content=b"a=1",
            headers={"Origin": evil, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 403
        assert http.post("/api/trading/ibkr/disconnect").status_code == 403  # no JSON
    for path in ("/_stcore/stream", "/api/live", "/api/market-data/stream"):
        assert handshake(open_server, path, origin=evil) == 403, path


def test_with_a_password_the_stream_refuses_a_connection_without_the_sessions_token(
    locked_server,
):
    with connect(ws_url(locked_server, "/api/live"), open_timeout=5) as ws:
        ws.send(json.dumps({"action": "subscribe", "symbols": ["AAPL"]}))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008
    with connect(ws_url(locked_server, "/api/live"), open_timeout=5) as ws:
        ws.send(json.dumps({"action": "auth", "token": API_TOKEN}))
        assert json.loads(ws.recv(timeout=5))["type"] == "update"


def test_the_api_token_never_reaches_the_log(locked_server):
    with httpx.Client(base_url=locked_server.url, timeout=10) as http:
        assert http.get(f"/api/trading/ibkr/status?token={API_TOKEN}").status_code == 400
        assert http.get("/api/trading/ibkr/status").status_code == 401
        bearer = {"Authorization": f"Bearer {API_TOKEN}"}
        assert http.get("/api/trading/ibkr/status", headers=bearer).status_code == 200
    assert handshake(locked_server, f"/api/market-data/stream?token={API_TOKEN}") == 403
    with connect(ws_url(locked_server, "/api/market-data/stream"), open_timeout=5) as ws:
        ws.send(json.dumps({"action": "auth", "token": API_TOKEN}))
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
    assert API_TOKEN not in locked_server.log_text()
