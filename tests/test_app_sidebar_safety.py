"""The sidebar's messages against issue 14: user text (hosts) shown as text, and no
stale failure of the previous try next to a new input error (AppTest)."""

from __future__ import annotations

import pytest

from tests import test_app_shell as shell
from tests.app_support import shown
from tests.conftest import free_port

pytestmark = pytest.mark.timeout(60)

services = shell.services


def test_a_port_error_is_not_shown_next_to_the_previous_cannot_reach(services):
    at = shell.connect_to(shell.run_app(), free_port())
    assert any("Connection refused" in shown(e.value) for e in at.sidebar.error)
    at.sidebar.text_input(key="conn_port").set_value("74x97")
    at.sidebar.button(key="conn_connect").click().run()
    errors = [shown(e.value) for e in at.sidebar.error]
    assert len(errors) == 1 and "port between 1 and 65535" in errors[0], errors


@pytest.mark.parametrize("host", ["**bold**", "[x](http://evil.example)", "WWW.EVIL.COM"])
def test_a_host_is_shown_as_typed_never_as_markdown(services, host):
    at = shell.run_app()
    at.sidebar.selectbox(key="conn_preset").set_value("TWS paper 7497").run()
    at.sidebar.text_input(key="conn_host").set_value(host)
    at.sidebar.text_input(key="conn_port").set_value(str(free_port()))
    at.sidebar.button(key="conn_connect").click().run()
    assert not at.exception
    raw = [e.value for e in at.sidebar.error]
    assert raw and any(host in shown(r) for r in raw), raw
    for r in raw:
        for char in "*[]():.":
            assert char not in r.replace("\\" + char, ""), r
