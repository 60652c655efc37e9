"""Fixtures of the provider contract tests (the rig itself lives in provider_contract_rig.py)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from provider_contract_rig import Rig, close_rig, open_rig

from pos_app.config import Settings, load_settings
from pos_app.sandbox.demo import init_demo_profile


@pytest.fixture(scope="session")
def profile_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo profile per worker (RSA key generation is slow); each test gets a fresh copy."""
    return init_demo_profile(tmp_path_factory.mktemp("provider-template") / "profile").home


@pytest.fixture
def provider_settings(profile_template: Path, tmp_path: Path) -> Settings:
    """A private copy of the demo profile (same keys, fresh sandbox state), modes kept (0600)."""
    home = tmp_path / "profile"
    shutil.copytree(profile_template, home)
    return load_settings(home / "pos.toml")


@pytest.fixture
async def rig(provider_settings: Settings) -> AsyncIterator[Rig]:
    opened = await open_rig(provider_settings)
    try:
        yield opened
    finally:
        await close_rig(opened)
