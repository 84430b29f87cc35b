"""AppTest: the app shell (password gate, navigation) and the sidebar connection panel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from ibkr_core.connection import ConnectionState
from ibkr_core.services import DEMO_PRESET, PRESETS, Services
from ibkr_core.settings import Settings
from ibkr_core.simulator import SimConfig, start_in_background
from tests.app_support import APP, app_services, run_app, shown
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.timeout(60)

PASSWORD = "correct horse battery staple"


@pytest.fixture
def services(tmp_path) -> Iterator[Services]:
    with app_services(tmp_path) as svc:
        yield svc


@pytest.fixture
def locked_services(tmp_path) -> Iterator[Services]:
    with app_services(tmp_path, dashboard_password=PASSWORD) as svc:
        yield svc


def sidebar_text(at: AppTest) -> str:
    parts = [m.value for m in at.sidebar.markdown]
    parts += [e.value for e in at.sidebar.error]
    parts += [w.value for w in at.sidebar.warning]
    parts += [c.value for c in at.sidebar.caption]
    return shown("\n".join(parts))  # the text as the user reads it


def connect_to(at: AppTest, port: int, preset: str = "TWS paper 7497") -> AppTest:
    at.sidebar.selectbox(key="conn_preset").set_value(preset).run()
    at.sidebar.text_input(key="conn_port").set_value(str(port))
    at.sidebar.button(key="conn_connect").click().run()
    assert not at.exception, at.exception
    return at


# -------------------------------------------------------------------- shell and gate
def test_shell_without_password_shows_sidebar_and_portfolio(services):
    at = run_app()
    assert at.title[0].value == "Portfolio"
    assert at.sidebar.selectbox(key="conn_preset").options == [p.label for p in PRESETS]
    # Nothing listens on settings.port (7497) here: a new session starts on the demo.
    assert at.sidebar.selectbox(key="conn_preset").value == DEMO_PRESET
    assert at.sidebar.text_input(key="conn_host").value == "127.0.0.1"
    assert at.sidebar.text_input(key="conn_port").value == "auto"
    assert at.sidebar.number_input(key="conn_client_id").value == 1
    assert "Disconnected" in sidebar_text(at)
    assert at.sidebar.button(key="conn_disconnect").disabled
    assert not any(b.key == "sign_out" for b in at.sidebar.button)


def test_password_gate_shows_nothing_of_the_account(locked_services):
    at = run_app()
    assert [t.label for t in at.text_input] == ["Password"]
    assert len(at.sidebar.children) == 0
    assert not at.metric and not at.dataframe
    assert "Disconnected" not in str(at.main) + sidebar_text(at)

    at.text_input[0].input("wrong password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong password."]
    assert len(at.sidebar.children) == 0
    assert not at.metric and not at.dataframe
    assert [t.value for t in at.text_input] == [""]  # cleared: not kept in the session


def test_a_deep_link_runs_through_the_gate_and_opens_after_sign_in(locked_services):
    """A page asked for directly (a bookmark, Streamlit's legacy pages/ mode under
    AppTest) still gets the password form first, and after it the page asked for."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.switch_page("pages/market_data.py")
    at.run()
    assert [t.label for t in at.text_input] == ["Password"]
    assert not at.metric and not at.dataframe and len(at.sidebar.children) == 0
    at.text_input[0].input("wrong password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong password."]
    assert not at.metric and not at.dataframe and len(at.sidebar.children) == 0
    at.text_input[0].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Market data"


def test_right_password_opens_the_dashboard(locked_services):
    at = run_app()
    at.text_input[0].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert not at.error
    assert at.title[0].value == "Portfolio"
    assert len(at.metric) == 6
    assert "Disconnected" in sidebar_text(at)
    assert PASSWORD not in repr(at.session_state)
    at.sidebar.button(key="sign_out").click().run()
    assert [t.label for t in at.text_input] == ["Password"]
    assert not at.metric


# ---------------------------------------------------------------------- connecting
def test_connect_shows_account_paper_badge_and_details(services, gateway):
    at = connect_to(run_app(), gateway.port)
    text = sidebar_text(at)
    assert "Connected" in text
    assert "PAPER" in text and "LIVE" not in text
    assert gateway.account_id in text
    assert f"127.0.0.1:{gateway.port}" in text
    assert "**Client id:** 1" in text
    assert "**Server version:** 178" in text
    assert "**Connected since:**" in text
    assert not at.sidebar.button(key="conn_disconnect").disabled
    assert services.connection.status().connected

    at.sidebar.button(key="conn_disconnect").click().run()
    assert "Disconnected" in sidebar_text(at)
    assert "PAPER" not in sidebar_text(at) and gateway.account_id not in sidebar_text(at)
    assert not services.connection.status().connected


def test_live_account_is_marked_red(services):
    gw = start_in_background(seed=3, port=0, config=SimConfig(account_id="U7654321"))
    try:
        at = connect_to(run_app(), gw.port)
        text = sidebar_text(at)
        assert ":red-badge[" in text and "LIVE" in text
        assert "real money" in text
        assert "U7654321" in text
    finally:
        services.disconnect()
        gw.stop()


def test_closed_port_shows_plain_error_and_no_traceback(services):
    port = free_port()
    at = connect_to(run_app(), port)
    errors = [shown(e.value) for e in at.sidebar.error]
    assert len(errors) == 1
    assert f"Connection refused at 127.0.0.1:{port}" in errors[0]
    assert "TWS / IB Gateway" in errors[0]
    assert "Traceback" not in errors[0]
    assert not at.exception
    assert "Disconnected" in sidebar_text(at)


def test_bad_port_input_is_explained(services):
    at = run_app()
    at.sidebar.selectbox(key="conn_preset").set_value("TWS paper 7497").run()
    at.sidebar.text_input(key="conn_port").set_value("74x97")
    at.sidebar.button(key="conn_connect").click().run()
    assert any("port between 1 and 65535" in e.value for e in at.sidebar.error)
    assert not services.connection.status().connected


def test_default_preset_is_the_configured_tws_when_it_listens(monkeypatch, gateway):
    import ibkr_core.services as services_module

    listening = services_module.ConnectionPreset("TWS paper (test)", port=gateway.port)
    monkeypatch.setattr(services_module, "PRESETS", (*PRESETS, listening))
    settings = Settings(port=gateway.port)
    assert services_module.default_preset(settings) == listening
    gateway.stop()  # nothing listens any more: the demo
    assert services_module.default_preset(settings).label == DEMO_PRESET


def test_demo_preset_starts_gateway_and_connects_in_one_click(services):
    at = run_app()  # no TWS here: the demo preset is already chosen
    assert at.sidebar.text_input(key="conn_port").value == "auto"
    assert at.sidebar.text_input(key="conn_port").disabled
    at.sidebar.button(key="conn_connect").click().run()
    assert not at.exception
    assert services.demo.running
    status = services.connection.status()
    assert status.connected and status.port == services.demo.port
    assert at.sidebar.text_input(key="conn_port").value == str(services.demo.port)
    text = sidebar_text(at)
    assert "Connected" in text and services.demo.account_id in text and "PAPER" in text
    # Connect again while connected: still one session, nothing breaks.
    at.sidebar.button(key="conn_connect").click().run()
    assert services.demo.gateway.client_count() == 1


def test_badge_follows_a_dropped_connection(services, gateway):
    at = connect_to(run_app(), gateway.port)
    gateway.refuse_connections(5.0)
    gateway.drop_all_clients()
    # the client notices the drop on its own loop: wait for that, as the 2 s timer would
    assert wait_for(lambda: services.connection.status().state == ConnectionState.RECONNECTING, 5)
    # run_every never fires in AppTest: a rerun stands in for the 2 s timer.
    at.run()
    text = sidebar_text(at)
    assert "Reconnecting" in text
    assert "lost" in text
    assert "PAPER" in text  # still the same (paper) session coming back
    # The page says it is coming back by itself, not "choose the Demo preset".
    assert any("reconnecting automatically" in w.value for w in at.main.warning)
    assert not at.main.info
