"""Alembic environment for the engine ledger (SQLite and PostgreSQL).

`open_ledger` passes an open connection in ``config.attributes["connection"]``; the alembic CLI
(for writing new revisions) uses ``sqlalchemy.url`` instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

import pos_app.engine.store.console_accounts  # noqa: F401  (the console's accounts: same metadata)
import pos_app.engine.store.managers  # noqa: F401  (managers: same metadata)
import pos_app.engine.store.models  # noqa: F401
import pos_app.engine.store.terminals  # noqa: F401  (terminals, nonces: same metadata)
from pos_app.engine.store.base import LedgerTable  # noqa: E402

target_metadata = LedgerTable.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url (alembic -x) or call pos_app.engine.store.db.migrate"
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
