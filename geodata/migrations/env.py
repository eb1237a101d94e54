"""Alembic environment: runs migrations on the URL handed in by geodata.store.postgis."""

from alembic import context
from sqlalchemy import create_engine

from geodata import schema

url = context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url")
target_metadata = schema.metadata

engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
