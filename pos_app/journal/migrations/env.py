"""Alembic environment for the terminal journal. Run programmatically by ``open_journal``:
the caller passes its open connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from pos_app.journal import models  # noqa: F401  (registers the tables on JournalTable.metadata)

target_metadata = models.JournalTable.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        url = context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("journal migrations need a connection or sqlalchemy.url")
        with create_engine(url).begin() as own:
            context.configure(connection=own, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run_migrations()
