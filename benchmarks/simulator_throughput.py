"""How fast `ib_async` connects to the simulated gateway, and how many tick messages per
second it absorbs from it, with the gateway in its own process (as a real TWS is).

    python -m benchmarks.simulator_throughput [--seconds 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time

from ib_async import IB, Stock

from ibkr_core.simulator.universe import UNIVERSE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gateway(tick_interval: float) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ibkr_core.simulator",
            "--port",
            str(port),
            "--tick-interval",
            str(tick_interval),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    proc.stdout.readline()  # "Simulated IB Gateway on ..."
    return proc, port


async def connect_time(port: int, client_id: int) -> float:
    ib = IB()
    started = time.perf_counter()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=5)
    elapsed = time.perf_counter() - started
    ib.disconnect()
    return elapsed


async def absorbed_rate(port: int, seconds: float) -> tuple[float, float]:
    """(messages per second decoded, CPU seconds per wall second of this process)."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=99, timeout=5)
    stocks = [Stock(i.symbol, "SMART", i.currency) for i in UNIVERSE if i.sec_type == "STK"]
    await ib.qualifyContractsAsync(*stocks)
    for contract in stocks:
        ib.reqMktData(contract)
    await asyncio.sleep(1.0)  # warm up
    before_msgs = ib.client._numMsgRecv
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    rate = (ib.client._numMsgRecv - before_msgs) / (time.perf_counter() - wall0)
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    ib.disconnect()
    return rate, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    proc, port = start_gateway(0.25)
    try:
        times = [asyncio.run(connect_time(port, 10 + i)) for i in range(10)]
        print(f"connect: median {statistics.median(times) * 1000:.1f} ms over {len(times)}")
        real_rate = [asyncio.run(absorbed_rate(port, args.seconds)) for _ in range(args.repeats)]
        print(
            f"IBKR's rate (250 ms snapshots, {sum(1 for i in UNIVERSE if i.sec_type == 'STK')} "
            f"stocks): {statistics.median(r for r, _ in real_rate):.0f} msg/s, "
            f"client CPU {statistics.median(c for _, c in real_rate) * 100:.1f}%"
        )
    finally:
        proc.terminate()
        proc.wait(5)
    proc, port = start_gateway(0.0)
    try:
        flood = [asyncio.run(absorbed_rate(port, args.seconds)) for _ in range(args.repeats)]
        rate = statistics.median(r for r, _ in flood)
        cpu = statistics.median(c for _, c in flood) * 100
        print(f"flood (no pause): {rate:.0f} msg/s absorbed, client CPU {cpu:.1f}%")
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    main()
