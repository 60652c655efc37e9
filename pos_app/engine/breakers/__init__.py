"""Circuit breakers and bulkheads per gateway channel: one failing or slow gateway never holds up the other."""

from pos_app.engine.breakers.breaker import BreakerPolicy, BreakerState, CircuitBreaker, CircuitOpen
from pos_app.engine.breakers.bulkhead import Bulkhead, ChannelBusy
from pos_app.engine.breakers.guard import GuardedProvider

__all__ = [
    "BreakerPolicy",
    "BreakerState",
    "Bulkhead",
    "ChannelBusy",
    "CircuitBreaker",
    "CircuitOpen",
    "GuardedProvider",
]
