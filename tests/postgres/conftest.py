"""PostgreSQL tests: the engine ledger on the real server started by scripts/test (env POS_TEST_PG_URL).

Each test module gets its own fresh database (CREATE DATABASE), dropped at the end.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url


def _admin_dsn(pg_url: str) -> str:
    url = make_url(pg_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh, empty database for this test module; yields its SQLAlchemy URL."""
    import os

    base = os.environ.get("POS_TEST_PG_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("POS_TEST_PG_URL is not set: run the suite with scripts/test")
        pytest.skip("PostgreSQL not started (run scripts/test)")
    name = f"pos_engine_{secrets.token_hex(6)}"
    with psycopg.connect(_admin_dsn(base), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    yield url
    with psycopg.connect(_admin_dsn(base), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
