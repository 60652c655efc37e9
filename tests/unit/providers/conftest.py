"""Key material and clocks for the provider unit tests (generated once per session: RSA is slow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from provider_test_helpers import FixedClock

from pos_app.engine.crypto.rsa import generate_rsa_key

VECTORS = Path(__file__).resolve().parents[4] / "shared" / "vectors" / "signing.json"


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text("utf-8"))
    return data


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    """Four independent RSA-2048 keys: [merchant/app, gateway, other gateway, attacker]."""
    return [generate_rsa_key() for _ in range(4)]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()
