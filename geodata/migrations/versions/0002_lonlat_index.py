"""Btree (lon, lat) on the point tables: the radius query's lon/lat box (layers/nearby.radius_select)
is leakproof, so under FORCE ROW LEVEL SECURITY it can use this index; the GIST indexes cannot
serve it (EXPLAIN before/after in benchmarks/RESULTS.md).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

POINT_TABLES = ("enterprises", "projects", "cases", "incidents")


def upgrade() -> None:
    for name in POINT_TABLES:
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_{name}_lonlat ON {name} (lon, lat)"))


def downgrade() -> None:
    for name in POINT_TABLES:
        op.execute(sa.text(f"DROP INDEX IF EXISTS ix_{name}_lonlat"))
