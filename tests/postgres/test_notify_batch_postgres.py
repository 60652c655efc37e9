"""PostgreSQL writes a batch of payment notifications with a few statements for the whole batch, as
SQLite does: the payments locked first, then the inbox read, every case decided in memory. The rows
end up as one-by-one delivery would leave them (the same cases as the SQLite test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pos_app.config import load_settings
from pos_app.engine.store import hotpath
from pos_app.sandbox.demo import init_demo_profile
from tests.contract.engine.batch_cases import every_case_in_one_batch
from tests.contract.engine.conftest import make_rig

pytestmark = pytest.mark.postgres


async def test_one_batch_with_every_case_on_postgres(pg_database: str, tmp_path: Path) -> None:
    settings = load_settings(init_demo_profile(tmp_path / "profile").home / "pos.toml")
    rig = make_rig(settings, database_url=pg_database)
    batches = rig.engine.notifications.batches
    assert batches is not None  # PostgreSQL: the batching writer, not SQLite's group commit

    statements: list[str] = []
    real = hotpath.HotPath.payments_many

    def counted(self: hotpath.HotPath, *args: object, **kwargs: object) -> object:
        statements.append("payments_many")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    hotpath.HotPath.payments_many = counted  # type: ignore[method-assign,assignment]
    try:
        await every_case_in_one_batch(rig, batches.write)
    finally:
        hotpath.HotPath.payments_many = real  # type: ignore[method-assign]
        await rig.engine.aclose()
        await rig.sandbox.aclose()
        for provider in rig.providers.values():
            await provider.aclose()
        rig.ledger.dispose()
    assert statements == ["payments_many", "payments_many"]  # each batch read its payments once, together
