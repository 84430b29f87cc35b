from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ibkr_core.loop_thread import LoopThread, get_loop_thread

pytestmark = pytest.mark.timeout(10)


@pytest.fixture
def lt():
    loop = LoopThread(name="test-loop")
    yield loop
    loop.stop()


def test_run_returns_result_from_the_loop_thread(lt):
    async def where():
        await asyncio.sleep(0)
        return threading.current_thread().name

    assert lt.run(where(), timeout=2) == "test-loop"


def test_run_timeout_raises_plain_timeouterror_and_cancels(lt):
    cancelled = threading.Event()

    async def slow():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no answer within"):
        lt.run(slow(), timeout=0.2)
    assert time.monotonic() - started < 1.0
    assert cancelled.wait(2), "the coroutine was not cancelled"


def test_exceptions_propagate(lt):
    async def boom():
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        lt.run(boom(), timeout=1)


def test_call_runs_plain_function_on_loop_thread(lt):
    assert lt.call(lambda: threading.current_thread().name) == "test-loop"
    assert lt.call(lambda a, b: a + b, 2, 3) == 5

    async def coro_result():
        return 42

    assert lt.call(coro_result, timeout=1) == 42  # awaitable results are awaited


def test_run_from_many_threads(lt):
    async def double(x):
        await asyncio.sleep(0.01)
        return 2 * x

    results: dict[int, int] = {}

    def worker(i):
        results[i] = lt.run(double(i), timeout=2)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == {i: 2 * i for i in range(20)}


def test_run_on_loop_thread_refuses_instead_of_deadlocking(lt):
    async def inner():
        return 1

    def nested():
        with pytest.raises(RuntimeError):
            lt.run(inner(), timeout=1)
        return "ok"

    assert lt.call(nested, timeout=2) == "ok"


def test_event_loop_is_set_for_the_thread(lt):
    # eventkit / ib_async look the loop up through the policy on the current thread
    assert lt.call(lambda: asyncio.get_event_loop_policy().get_event_loop()) is lt.loop


def test_stop_is_clean_and_idempotent():
    loop = LoopThread(name="short-lived")

    async def forever():
        await asyncio.sleep(100)

    loop.submit(forever())
    loop.stop()
    loop.stop()
    assert not loop.thread.is_alive()
    assert loop.loop.is_closed()
    with pytest.raises(RuntimeError):
        loop.run(asyncio.sleep(0), timeout=1)


def test_get_loop_thread_is_a_singleton():
    assert get_loop_thread() is get_loop_thread()
    assert get_loop_thread().thread.daemon
