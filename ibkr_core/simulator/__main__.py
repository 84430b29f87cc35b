"""`python -m ibkr_core.simulator [--host 127.0.0.1] [--port 7497] [--seed N] [--profile NAME]`"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .config import SimConfig
from .gateway import SimulatedGateway
from .profiles import PROFILES


def main() -> None:
    parser = argparse.ArgumentParser(description="Simulated IB Gateway (TWS API protocol)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7497, help="port (default 7497, TWS paper)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the price walk")
    parser.add_argument("--account", default="DU1234567", help="paper account id")
    parser.add_argument(
        "--profile",
        default="stocks",
        choices=PROFILES,
        help="accounts and instruments (default stocks: one USD account, US stocks)",
    )
    parser.add_argument(
        "--tick-interval", type=float, default=0.25, help="seconds between snapshots (IBKR: 0.25)"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    async def run() -> None:
        gateway = SimulatedGateway(
            args.host,
            args.port,
            args.seed,
            SimConfig(
                account_id=args.account, tick_interval=args.tick_interval, profile=args.profile
            ),
        )
        await gateway.start()
        print(
            f"Simulated IB Gateway on {gateway.host}:{gateway.port} "
            f"(profile {args.profile}, accounts {','.join(gateway.account_ids())}); "
            "Ctrl-C stops it.",
            flush=True,
        )
        try:
            await asyncio.Event().wait()
        finally:
            await gateway.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
