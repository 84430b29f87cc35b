"""After a gateway outage the connection comes back soon after the gateway does: the
reconnect back-off is capped (at 2 s), so a 10 s outage is not followed by a 16 s wait.
(The recovery time itself is measured in benchmarks/, not asserted here.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ibkr_core.connection import ConnectionState
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(60)


def test_the_next_try_during_an_outage_is_never_more_than_two_seconds_away(gateway, connection):
    waits: list[float] = []

    def note(status) -> None:
        if status.next_retry_at is not None:
            waits.append((status.next_retry_at - datetime.now(UTC)).total_seconds())

    connection.status_changed += note
    gateway.refuse_connections(6.0)
    gateway.drop_all_clients()
    wait_for(lambda: connection.status().state == ConnectionState.RECONNECTING, 5)
    wait_for(lambda: connection.status().connected, 20)
    connection.status_changed -= note
    assert len(waits) >= 5  # it kept trying through the outage
    assert max(waits) <= 2.05, waits
