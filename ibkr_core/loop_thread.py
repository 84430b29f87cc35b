"""One dedicated asyncio loop thread per process, hosting everything `ib_async` touches.

`ib_async` is single-threaded: its `IB` object, its events and its socket must live on
one event loop that runs all the time. Streamlit's script threads (and any other caller)
never touch `IB` directly; they submit work here and wait for the answer with a timeout.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["LoopThread", "get_loop_thread"]


class LoopThread:
    """A daemon thread running one asyncio event loop forever.

    ``run(coro, timeout)`` and ``call(fn, *args)`` are safe to use from any thread
    except the loop thread itself (there they would deadlock and raise instead).
    """

    def __init__(self, name: str = "ibkr-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        atexit.register(self.stop)

    # -- introspection -------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def is_running(self) -> bool:
        return not self._stopped and self._thread.is_alive() and self._loop.is_running()

    # -- submitting work -----------------------------------------------------------
    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; return a thread-safe future without waiting."""
        self._check_running()
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result.

        On timeout the coroutine is cancelled and a plain ``TimeoutError`` is raised.
        """
        if self.in_loop_thread():
            _close(coro)
            raise RuntimeError("LoopThread.run() called on the loop thread: await instead")
        if not self.is_running():
            _close(coro)
            raise RuntimeError("the IBKR loop thread is not running")
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(coro), self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if future.done():  # the coroutine itself raised TimeoutError
                raise
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run plain function ``fn(*args)`` on the loop thread and return its result.

        If ``fn`` returns an awaitable it is awaited on the loop too. Called from the loop
        thread itself, ``fn`` runs directly (and an awaitable result is returned as is).
        """
        if self.in_loop_thread():
            return fn(*args)

        async def _invoke() -> T:
            result = fn(*args)
            if inspect.isawaitable(result):
                result = await result
            return result

        return self.run(_invoke(), timeout)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Fire and forget: run ``fn(*args)`` on the loop thread soon."""
        if self.in_loop_thread():
            self._loop.call_soon(fn, *args)
        else:
            self._check_running()
            self._loop.call_soon_threadsafe(fn, *args)

    # -- lifecycle -----------------------------------------------------------------
    def stop(self, timeout: float = 2.0) -> None:
        """Cancel pending tasks, stop the loop and join the thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if self._loop.is_closed():
            return
        if self.in_loop_thread():
            self._loop.stop()
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)  # eventkit/ib_async look the loop up per thread
        self._loop.call_soon(self._ready.set)
        try:
            self._loop.run_forever()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        loop = self._loop
        try:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(
                    asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 1.0)
                )
            loop.run_until_complete(loop.shutdown_asyncgens())
        except Exception:  # shutting down: nothing useful to do with it
            pass
        finally:
            loop.close()

    def _check_running(self) -> None:
        if not self.is_running():
            raise RuntimeError("the IBKR loop thread is not running")


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _close(awaitable: Any) -> None:
    if inspect.iscoroutine(awaitable):
        awaitable.close()


_default: LoopThread | None = None
_default_lock = threading.Lock()


def get_loop_thread() -> LoopThread:
    """The process-wide loop thread, created on first use (and again if it was stopped)."""
    global _default
    with _default_lock:
        if _default is None or not _default.is_running():
            _default = LoopThread()
        return _default
