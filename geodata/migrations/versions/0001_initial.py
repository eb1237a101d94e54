"""Initial schema: every data kind, townships, gazetteer, batches, rejected rows, users, audit;
GIST indexes (GeoAlchemy2 per geometry column, plus a geography expression index for radius
queries); township row-level security (FORCE, policy on app.township).

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from geodata import schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Tables restricted by township: a transaction sees rows of the townships in app.township
# ('*' = all, set by the store per transaction; unset = nothing).
RLS_TABLES = [t.name for t in schema.SCOPED_TABLES]
POLICY = (
    "current_setting('app.township', true) = '*' OR "
    "township_code = ANY (string_to_array(current_setting('app.township', true), ','))"
)


def upgrade() -> None:
    bind = op.get_bind()
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    # The schema as of revision 0001 (later revisions alter it with explicit operations).
    schema.metadata.create_all(bind)
    for name in ("enterprises", "projects", "cases", "incidents"):
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_{name}_geog ON {name} USING GIST ((geom::geography))"))
    for name in RLS_TABLES:
        op.execute(sa.text(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"))
        op.execute(sa.text(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY"))
        op.execute(sa.text(f"CREATE POLICY township_scope ON {name} USING ({POLICY}) WITH CHECK ({POLICY})"))


def downgrade() -> None:
    bind = op.get_bind()
    schema.metadata.drop_all(bind)
