"""A simulated IB Gateway that speaks the real TWS API wire protocol on 127.0.0.1."""

from .background import BackgroundGateway, start_in_background
from .config import SimConfig
from .gateway import SimulatedGateway

__all__ = ["BackgroundGateway", "SimConfig", "SimulatedGateway", "start_in_background"]
