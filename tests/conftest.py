"""Fixtures shared by every test folder. Folder-specific fixtures live in that folder's conftest.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pos_app.config import Settings, load_settings
from pos_app.sandbox.demo import DemoProfile, init_demo_profile

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def demo_profile(tmp_path: Path) -> DemoProfile:
    """A fresh demo profile (keys, pos.toml with free ports) in a temporary directory."""
    return init_demo_profile(tmp_path / "profile")


@pytest.fixture
def demo_settings(demo_profile: DemoProfile) -> Settings:
    return load_settings(demo_profile.config)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The PostgreSQL server started by scripts/test. Missing it in CI is a failure, not a skip."""
    url = os.environ.get("POS_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("POS_TEST_PG_URL is not set: run the suite with scripts/test")
        pytest.skip("PostgreSQL not started (run scripts/test)")
    yield url
