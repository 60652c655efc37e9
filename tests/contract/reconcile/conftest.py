"""Reuse the engine contract rig (sandbox + real ledger + PaymentService over ASGI)."""

from tests.contract.engine.conftest import engine_settings, profile_template

__all__ = ["engine_settings", "profile_template"]
