"""The pure domain core: money, ids, channel routing, the payment state machine, errors.

Standard library only, no I/O (enforced by import-linter and by mypy --strict).
"""
