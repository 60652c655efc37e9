"""Fixtures of the console tests: a seeded ledger, the console on a loopback port, a headless chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from pos_app.config import Settings
from tests.console.support import chromium, seed, serve_console, write_profile


@pytest.fixture
def console_settings(tmp_path: Path) -> Settings:
    settings = write_profile(tmp_path / "profile")
    seed(settings)
    return settings


@pytest.fixture
def console_url(console_settings: Settings) -> Iterator[str]:
    with serve_console(console_settings) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()
