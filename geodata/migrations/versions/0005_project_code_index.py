"""Btree on `project_code` of cases and deposits: the project page reads a project's own rows by key
(dashboard/records.project_view) instead of every row of the city; compliance is already covered by
its unique key (project_code, month). Without it each page scans the case table (298,200 rows at
province scale).

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("cases", "deposits")


def upgrade() -> None:
    for name in TABLES:
        op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_{name}_project_code ON {name} (project_code)"))


def downgrade() -> None:
    for name in TABLES:
        op.execute(sa.text(f"DROP INDEX IF EXISTS ix_{name}_project_code"))
