"""The simulated gateway as a process, with synthetic instruments and a clock line.

    python -m benchmarks.gateway_proc --port P --tick-interval T [--extra N] [--clock]

``--extra N`` adds N synthetic stocks (ZQ00...) to the universe (the simulator has ~27
instruments and no setting for more). ``--clock`` adds ZCLK, whose price is set after
every market step to ``100 + (time.time() % 100)`` (0.1 ms resolution): a client that
reads ZCLK's last price knows when the gateway produced the step it is looking at,
behind all the other lines' ticks of that step. Prints one "listening" line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time

from benchmarks.common import CLOCK_SYMBOL, extend_universe


def clock_price(now: float) -> float:
    return 100.0 + (now % 100.0)


def decode_clock(price: float, now: float) -> float:
    """The gateway time a ZCLK price encodes, taken as the candidate nearest ``now``."""
    base = now - (now % 100.0)
    candidates = [base + k * 100.0 + (price - 100.0) for k in (-1, 0, 1)]
    return min(candidates, key=lambda t: abs(now - t))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tick-interval", type=float, default=0.25)
    parser.add_argument("--extra", type=int, default=0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--clock", action="store_true")
    args = parser.parse_args()
    extend_universe(args.extra, clock=args.clock)

    from ibkr_core.simulator import SimConfig
    from ibkr_core.simulator.gateway import SimulatedGateway

    async def run() -> None:
        config = SimConfig(tick_interval=args.tick_interval, account_update_interval=3600)
        gateway = SimulatedGateway("127.0.0.1", args.port, args.seed, config)
        steps = [0]
        if args.clock:
            step = gateway._on_tick

            def on_tick() -> None:
                step()
                steps[0] += 1
                gateway.set_price(CLOCK_SYMBOL, clock_price(time.time()))

            gateway._on_tick = on_tick  # the tick task calls this attribute
        await gateway.start()
        if args.clock:
            gateway.stop_ticks(CLOCK_SYMBOL)  # only set_price moves it
        print(f"listening on 127.0.0.1:{gateway.port}", flush=True)
        started = time.monotonic()
        done = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
        await done.wait()
        elapsed = time.monotonic() - started
        print(f"steps {steps[0]} seconds {elapsed:.3f}", flush=True)
        await gateway.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
