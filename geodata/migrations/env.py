"""Alembic environment: runs migrations on the URL handed in by geodata.store.postgis.

Several processes may open a fresh store at once (gunicorn workers, `wagemap etl` beside
`wagemap serve`): each would create alembic_version, the tables and the extensions in its own
transaction and all but one fail on a duplicate catalog entry. A transaction-level advisory lock
taken before Alembic reads the current revision makes them take turns: the first migrates, the
others then find the schema at head and do nothing.
"""

import sqlalchemy as sa
from alembic import context
from sqlalchemy import create_engine

from geodata import schema

url = context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url")
target_metadata = schema.metadata
MIGRATION_LOCK = 0x7761_6765_6D61_70  # "wagemap": one advisory lock key for schema migrations

engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        context.run_migrations()
engine.dispose()
