"""pg_trgm for the emergency search in SQL (layers/search_sql.py), btrees for the radius panel's case totals.

- `CREATE EXTENSION IF NOT EXISTS pg_trgm`: a trusted extension, so the database owner (the
  non-superuser wagemap role) may create it; .ci/postgis.sh installs it as superuser beforehand.
- One multicolumn GIN (gin_trgm_ops) per searched table over what the search matches on: the
  business key, the name (employer name for cases) and the address. The key's exact match uses
  the existing unique btrees; projects also get a btree on contractor_credit_code (a credit code
  lists the projects it contracts).
- Btrees on cases.project_code and cases.credit_code: the radius panel sums the open cases of the
  sites it lists (layers/nearby.py) by these keys instead of scanning every case.

Under FORCE ROW LEVEL SECURITY PostgreSQL uses an index only for a condition whose operator is
LEAKPROOF; pg_trgm's `<%` is not marked so when it is installed. .ci/postgis.sh marks its
similarity operators LEAKPROOF as superuser (they only compare two strings and raise no
data-dependent error); without that step the search gives the same answers by sequential scan
(EXPLAIN ANALYZE of both in benchmarks/RESULTS.md).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TRGM = {  # table -> columns matched by the search (layers/search_sql.TEXT_COLUMNS)
    "incidents": ("incident_no", "address"),
    "cases": ("case_no", "employer_name", "address"),
    "projects": ("project_code", "name", "address"),
    "enterprises": ("credit_code", "name", "address"),
}
BTREE = {"ix_projects_contractor_credit_code": ("projects", "contractor_credit_code"),
         "ix_cases_project_code": ("cases", "project_code"), "ix_cases_credit_code": ("cases", "credit_code")}


def upgrade() -> None:
    op.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    for table, cols in TRGM.items():  # identifiers from this module, never from input
        ops = ", ".join(f"{c} gin_trgm_ops" for c in cols)
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_{table}_trgm ON {table} USING gin ({ops})"))
    for name, (table, col) in BTREE.items():
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({col})"))


def downgrade() -> None:
    for name in BTREE:
        op.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
    for table in TRGM:
        op.execute(sa.text(f"DROP INDEX IF EXISTS ix_{table}_trgm"))
    # the extension stays: other objects may use it, and dropping it needs its owner
