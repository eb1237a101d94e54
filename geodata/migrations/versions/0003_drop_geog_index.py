"""Drop the GIST indexes on `geom::geography` (created by 0001): no query uses them.

The radius query (layers/nearby.radius_select) filters by the leakproof lon/lat box on the btree
of 0002 and then applies ST_DWithin in EPSG:4547 to the few rows left; under FORCE ROW LEVEL
SECURITY the planner cannot use a geography GIST for it anyway. Upkeep cost measured per 200 k
case rows: 0.85 s of PostgreSQL CPU on every load (benchmarks/RESULTS.md, "ETL (PostGIS)").
The GIST on `geom` itself (GeoAlchemy2's spatial index) stays for ad-hoc spatial SQL.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

POINT_TABLES = ("enterprises", "projects", "cases", "incidents")


def upgrade() -> None:
    for name in POINT_TABLES:
        op.execute(sa.text(f"DROP INDEX IF EXISTS ix_{name}_geog"))


def downgrade() -> None:
    for name in POINT_TABLES:
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_{name}_geog ON {name} USING GIST ((geom::geography))"))
