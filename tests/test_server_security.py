"""The custom routes' defences, in process (ASGI): Host allow-list, Origin / CSRF, tokens
only in headers or a first message, the password's session tokens, binary frames, the
push stream's coalescing, and `python -m ibkr_core.api --host` without a token.

The same rules run in front of the one-process server (tests/test_server_one_process.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ibkr_core.api import create_app
from ibkr_core.api.__main__ import main as api_main
from ibkr_core.api.__main__ import refuse_open_bind
from ibkr_core.settings import Settings
from ibkr_core.web.security import RedactSecrets
from ibkr_core.web.tokens import SessionTokens, session_tokens
from tests.test_api import offline_services
from tests.test_api_stream import drain, make_services, open_ws, recv, recv_until, serve

pytestmark = pytest.mark.timeout(60)

LOCAL = "http://localhost"
EVIL = "http://evil.example"
REBIND = "rebind.attacker.example"


@pytest.fixture
def settings(tmp_path) -> Settings:
    from conftest import free_port

    return Settings(
        port=free_port(),
        connect_timeout=2.0,
        request_timeout=4.0,
        provider_timeout=2.0,
        watchlist_file=str(tmp_path / "watchlist.json"),
    )


def client_for(settings: Settings) -> Iterator[TestClient]:
    services = offline_services(settings)
    disconnects: list[bool] = []
    original = services.connection.disconnect
    services.connection.disconnect = lambda *a, **k: (disconnects.append(True), original())[1]
    try:
        with TestClient(create_app(services), base_url=LOCAL) as client:
            client.disconnects = disconnects  # type: ignore[attr-defined]
            yield client
    finally:
        services.close()


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    yield from client_for(settings)


@pytest.fixture
def locked(settings) -> Iterator[TestClient]:
    """A server whose dashboard has a password (and no API token)."""
    yield from client_for(replace(settings, dashboard_password="pw-123"))


# ----------------------------------------------------------------- DNS rebinding (Host)
def test_a_foreign_host_is_refused_on_http_and_websockets(client):
    r = client.get("/api/trading/ibkr/account", headers={"Host": REBIND})
    assert r.status_code == 403 and "Host not allowed" in r.json()["detail"]
    r = client.get("/api/trading/ibkr/status", headers={"Host": f"{REBIND}:8501"})
    assert r.status_code == 403
    for path in ("/api/live", "/api/market-data/stream"):
        with (
            pytest.raises(WebSocketDisconnect) as info,
            client.websocket_connect(
                f"ws://{REBIND}{path}", headers={"Origin": f"http://{REBIND}"}
            ),
        ):
            pass
        assert info.value.code == 1008
    for host in ("localhost:8501", "127.0.0.1:8501", "[::1]:8501"):
        assert client.get("/api/trading/ibkr/status", headers={"Host": host}).status_code == 200


def test_allowed_hosts_setting_admits_another_name(settings):
    for client in client_for(replace(settings, allowed_hosts="dash.example.com, *.corp.lan")):
        ok = {"Host": "dash.example.com"}
        assert client.get("/api/trading/ibkr/status", headers=ok).status_code == 200
        sub = {"Host": "pc7.corp.lan:8501"}
        assert client.get("/api/trading/ibkr/status", headers=sub).status_code == 200
        assert client.get("/api/health", headers={"Host": "localhost"}).status_code == 403


# ------------------------------------------------------------------------------- CSRF
def test_a_cross_origin_form_post_is_refused_and_changes_nothing(client):
    r = client.post(
        "/api/trading/ibkr/disconnect",
        content=b"x=1",
        headers={"Origin": EVIL, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 403 and "Cross-origin" in r.json()["detail"]
    # fetch(url, {method: "POST", mode: "no-cors"}) from another site: no body, no Origin
    # check to pass (Chromium sends Sec-Fetch-Site), and no custom header either
    r = client.post("/api/trading/ibkr/disconnect", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = client.post(
        "/api/trading/orders",
        json={"symbol": "AAPL", "action": "BUY", "quantity": 1},
        headers={"Origin": EVIL, "Idempotency-Key": "csrf-1"},
    )
    assert r.status_code == 403
    assert client.disconnects == []


def test_a_post_needs_a_header_a_simple_request_cannot_set(client):
    r = client.post("/api/trading/ibkr/disconnect", headers={"Origin": LOCAL})
    assert r.status_code == 403 and "application/json" in r.json()["detail"]
    plain = {"Content-Type": "text/plain"}
    r = client.post("/api/trading/ibkr/disconnect", content=b"", headers=plain)
    assert r.status_code == 403
    assert client.disconnects == []
    assert client.post("/api/trading/ibkr/disconnect", json={}).status_code == 200
    r = client.post("/api/trading/ibkr/disconnect", headers={"X-Requested-With": "curl"})
    assert r.status_code == 200
    assert len(client.disconnects) == 2


def test_a_cross_origin_websocket_is_refused(client):
    for path in ("/api/live", "/api/market-data/stream"):
        for origin in (EVIL, "null", "http://localhost:9999"):
            with (
                pytest.raises(WebSocketDisconnect) as info,
                client.websocket_connect(f"ws://localhost{path}", headers={"Origin": origin}),
            ):
                pass
            assert info.value.code == 1008, (path, origin)
    with client.websocket_connect("ws://localhost/api/live", headers={"Origin": LOCAL}) as ws:
        assert ws.receive_json()["type"] == "update"


# ------------------------------------------------------------------- tokens and logs
def test_tokens_in_urls_are_refused_and_redacted_from_logs(client):
    r = client.get("/api/trading/ibkr/status?token=abc123")
    assert r.status_code == 400 and "Authorization" in r.json()["detail"]
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, "", 0, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/api/market-data/stream?token=abc123&x=1"), None,
    )  # fmt: skip
    RedactSecrets().filter(record)
    assert "abc123" not in record.getMessage() and "token=<redacted>&x=1" in record.getMessage()


def test_session_tokens_are_signed_and_expire():
    tokens = SessionTokens(ttl=60)
    token = tokens.issue(now=1000.0)
    assert tokens.verify(token, now=1059.0)
    assert not tokens.verify(token, now=1061.0)  # expired
    assert not tokens.verify(token[:-1] + ("0" if token[-1] != "0" else "1"), now=1001.0)
    assert not SessionTokens().verify(token, now=1001.0)  # another process's key
    assert not tokens.verify("", now=1001.0) and not tokens.verify("a.b", now=1001.0)


def test_with_a_password_the_stream_wants_a_signed_in_sessions_token(locked):
    url = "ws://localhost/api/live"
    with pytest.raises(WebSocketDisconnect) as info, locked.websocket_connect(url) as ws:
        ws.send_json({"action": "subscribe", "symbols": ["AAPL"]})
        ws.receive_json()
    assert info.value.code == 1008
    expired = session_tokens().issue(now=time.time() - 3600)
    with pytest.raises(WebSocketDisconnect), locked.websocket_connect(url) as ws:
        ws.send_json({"action": "auth", "token": expired})
        ws.receive_json()
    with locked.websocket_connect(url) as ws:
        ws.send_json({"action": "auth", "token": session_tokens().issue()})
        assert ws.receive_json()["type"] == "update"
    # the HTTP API too: no credential, 401; the session's token as a bearer, 200
    assert locked.get("/api/trading/ibkr/status").status_code == 401
    bearer = {"Authorization": f"Bearer {session_tokens().issue()}"}
    assert locked.get("/api/trading/ibkr/status", headers=bearer).status_code == 200


# -------------------------------------------------------------------------- the streams
def test_a_binary_frame_gets_a_plain_error_and_the_stream_goes_on(client, caplog):
    with client.websocket_connect("ws://localhost/api/market-data/stream") as ws:
        assert ws.receive_json()["type"] == "welcome"
        ws.send_bytes(b"\x00\x01binary")
        error = ws.receive_json()
        assert error["type"] == "error" and "binary" in error["message"]
        ws.send_json({"action": "ping"})
        assert ws.receive_json()["type"] == "pong"
    with client.websocket_connect("ws://localhost/api/live") as ws:
        ws.receive_json()
        ws.send_bytes(b"\x00")
        assert ws.receive_json()["type"] == "error"
    assert "KeyError" not in caplog.text


def test_the_push_stream_coalesces_to_at_most_four_messages_a_second(
    gateway, connection_settings, tmp_path
):
    """The simulator ticks every symbol several times a second; a client gets one
    message per 250 ms at most, each with the latest values of what changed."""
    settings = replace(connection_settings, watchlist_file=str(tmp_path / "w.json"))
    services = make_services(settings)
    try:
        assert services.connect(settings.host, settings.port, settings.client_id).connected
        for running in serve(services):
            symbols = ["AAPL", "MSFT", "NVDA", "SPY", "AMZN"]
            url = running.url.replace("/api/market-data/stream", "/api/live")
            ws = open_ws(url)
            try:
                recv(ws)  # the current status
                ws.send(json.dumps({"action": "subscribe", "symbols": symbols}))
                first = recv_until(ws, lambda m: len(m.get("quotes", {})) == 5)
                assert first["quotes"]["AAPL"]["source"] == "ibkr-live"
                messages = drain(ws, 3.0)
            finally:
                ws.close()
        assert len(messages) >= 3, "ticks did not arrive"
        assert len(messages) <= 13  # 4 per second (+1 at the window's edge)
        changed = [q for m in messages for q in m.get("quotes", {}).values()]
        assert all(q["price"] is not None for q in changed)
    finally:
        services.close()


# ------------------------------------------------------------------------ --host checks
def test_a_non_loopback_host_without_a_token_is_refused(capsys, monkeypatch):
    monkeypatch.delenv("IBKR_API_TOKEN", raising=False)
    monkeypatch.setattr("ibkr_core.settings.DEFAULT_SECRETS_FILE", Path("/nonexistent/s.toml"))
    with pytest.raises(SystemExit) as info:
        api_main(["--host", "0.0.0.0", "--no-connect"])
    assert info.value.code == 2
    assert "IBKR_API_TOKEN" in capsys.readouterr().err
    assert refuse_open_bind("0.0.0.0", "", allow=False)
    assert refuse_open_bind("0.0.0.0", "tok", allow=False) is None
    assert refuse_open_bind("0.0.0.0", "", allow=True) is None
    assert refuse_open_bind("127.0.0.1", "", allow=False) is None
    assert refuse_open_bind("localhost", "", allow=False) is None
