"""The end-to-end tests' real stack (sandbox and engine children, one per module), a terminal of it
with its journal and staff, and its activated engine client: the TUI tests' fixtures, shared.

A module that needs another stack (its own profile settings) defines its own ``stack``."""

from tests.tui.conftest import client, journal_engine, settings, stack  # noqa: F401
