"""Projected x/y (EPSG:4547) on the point tables; the radius panel's covering btrees and open cases indexed.

- `x`, `y` on enterprises, projects, cases and incidents: metres in EPSG:4547 (CGCS2000 3-degree
  Gauss-Kruger CM 114E, geodata.boundaries.PROJECTED_CRS), STORED generated columns
  `ST_X/ST_Y(ST_Transform(geom, 4547))` (ST_Transform is IMMUTABLE in PostGIS). Every writer fills
  them with no code of its own: the ETL's COPY + INSERT, the upsert's ON CONFLICT update of geom,
  the emergency page's incident form. Adding them rewrites each table once, which fills the
  existing rows (the backfill; province: benchmarks/RESULTS.md). Cost on later loads: two
  transforms per row, ~1 µs each.
- `ix_projects_xy`, `ix_enterprises_xy`: btree (x, y) INCLUDE (business key, township_code). The
  radius panel (layers/nearby.nearest_select) reads the sites in the box x0 ± r, y0 ± r from the
  index alone (index-only scan) and keeps those within r by float arithmetic: float comparisons
  are leakproof, so the index serves under FORCE ROW LEVEL SECURITY, and the township policy is
  evaluated on the index tuple (township_code is included). They replace the lon/lat btrees of
  0002 on these two tables (no other query used them).
- `ix_cases_open`: btree (project_code) INCLUDE (credit_code, status, workers, amount, recovered,
  township_code) WHERE closed_date IS NULL: the open cases (11% of the cases at province) for the
  radius totals, read from the index alone and matched to the sites within by hash.
- Then ANALYZE: statistics of the new columns (the radius query's plan reads the x/y histograms).

Index-only scans need the visibility map: autovacuum sets it after the rewrite (its inserts count
toward the insert threshold) and after each load. The CI server runs with autovacuum off, so its
benchmark stores need `VACUUM (ANALYZE)` after a load; without it the radius query still answers
the same, reading the heap for each site in the box. VACUUM is not run here: it cannot run in the
migration's transaction, whose advisory lock (geodata/migrations/env.py) keeps concurrent openers
from migrating twice.

New columns and indexes sit in the tables of 0001, so the township policies (FORCE ROW LEVEL
SECURITY) apply to every read of them unchanged.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SRID = 4547  # geodata.boundaries.PROJECTED_CRS (a migration keeps its own copy)
POINT_TABLES = ("enterprises", "projects", "cases", "incidents")
SITES = {"projects": "project_code", "enterprises": "credit_code"}  # layers/nearby._SITE_KEYS
OPEN_CASES = ("CREATE INDEX IF NOT EXISTS ix_cases_open ON cases (project_code) "
              "INCLUDE (credit_code, status, workers, amount, recovered, township_code) WHERE closed_date IS NULL")


def upgrade() -> None:
    for name in POINT_TABLES:  # identifiers from this module, never from input
        op.execute(sa.text(
            f"ALTER TABLE {name} "
            f"ADD COLUMN IF NOT EXISTS x double precision GENERATED ALWAYS AS (ST_X(ST_Transform(geom, {SRID}))) STORED, "
            f"ADD COLUMN IF NOT EXISTS y double precision GENERATED ALWAYS AS (ST_Y(ST_Transform(geom, {SRID}))) STORED"))
    for name, key in SITES.items():
        op.execute(sa.text(f"DROP INDEX IF EXISTS ix_{name}_lonlat"))
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_{name}_xy ON {name} (x, y) INCLUDE ({key}, township_code)"))
    op.execute(sa.text(OPEN_CASES))
    for name in POINT_TABLES:
        op.execute(sa.text(f"ANALYZE {name}"))


def downgrade() -> None:
    op.execute(sa.text("DROP INDEX IF EXISTS ix_cases_open"))
    for name in SITES:
        op.execute(sa.text(f"DROP INDEX IF EXISTS ix_{name}_xy"))
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_{name}_lonlat ON {name} (lon, lat)"))
    for name in POINT_TABLES:
        op.execute(sa.text(f"ALTER TABLE {name} DROP COLUMN IF EXISTS x, DROP COLUMN IF EXISTS y"))
