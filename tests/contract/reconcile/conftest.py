"""Reuse the engine contract rig (sandbox + real ledger + the engine's use cases over ASGI)."""

from tests.contract.engine.conftest import engine_settings, profile_template

__all__ = ["engine_settings", "profile_template"]
