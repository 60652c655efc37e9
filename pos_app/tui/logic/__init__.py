"""The TUI's pure logic: no Textual, no I/O. Unit-tested in tests/unit/tui_logic/."""
