"""Aggregates computed in the database (by township, month, hex) and capped point sets, not rows.

    from geodata.store import open_store
    store = open_store()
    store.aggregate("cases", by=("township", "month"), measures={"n": "count", "amount": ("sum", "amount")},
                    where={"status": ["受理", "调查"]}, months=("2025-01", "2025-12"), scope=None)
    store.points("cases", limit=5000, order_by="amount", columns=["case_no", "amount"])  # (frame, total)

At province scale (100x the city) the overview must not pull 300,000 cases to sum them by
township: PostGIS returns 19 rows (benchmarks/RESULTS.md has the timings and the plans). Both
backends run the same SQLAlchemy statements (GeoPackage = SQLite); values go in as bound
parameters only; column names are checked against geodata.schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from geodata import schema

FUNCS = ("count", "sum", "avg", "min", "max", "count_distinct")
# the date (or 'YYYY-MM' text) column that places a row of each kind in a month
MONTH_COLUMN = {"cases": "received_date", "incidents": "occurred_at", "projects": "start_date", "compliance": "month",
                "indicators": "month", "deposits": "paid_date", "credit": "listed_date"}
BYS = ("township", "month", "hex")


class AggregateError(ValueError):
    """A bad aggregate request (unknown kind, column, function or grouping); `user_msg` in Chinese."""

    def __init__(self, msg: str):
        super().__init__(msg)
        self.user_msg = f"统计请求无效：{msg}"


def _table(kind: str) -> sa.Table:
    t = schema.DATA_TABLES.get(kind)
    if t is None:
        raise AggregateError(f"unknown kind {kind!r}; one of {', '.join(schema.DATA_TABLES)}")
    return t


def _column(t: sa.Table, name: str) -> sa.Column:
    if name not in t.c or name == "geom":
        raise AggregateError(f"{t.name} has no column {name!r}")
    return t.c[name]


def month_expr(t: sa.Table, backend: str) -> sa.ColumnElement:
    """'YYYY-MM' of the kind's month column, in the database's own dialect."""
    name = MONTH_COLUMN.get(t.name)
    if name is None or name not in t.c:
        raise AggregateError(f"{t.name} has no month column")
    c = t.c[name]
    if isinstance(c.type, (sa.Date, sa.DateTime)):
        return sa.func.to_char(c, "YYYY-MM") if backend == "postgis" else sa.func.strftime("%Y-%m", c)
    return sa.func.substr(c, 1, 7)


def _measure(t: sa.Table, name: str, spec: str | tuple[str, str | None]) -> sa.ColumnElement:
    func, col = (spec, None) if isinstance(spec, str) else spec
    if func not in FUNCS:
        raise AggregateError(f"unknown function {func!r}; one of {', '.join(FUNCS)}")
    if func == "count" and col is None:
        return sa.func.count().label(name)
    c = _column(t, col or "")
    if func == "count_distinct":
        return sa.func.count(sa.distinct(c)).label(name)
    return getattr(sa.func, func)(c).label(name)


def _filters(t: sa.Table, q: sa.Select, scope, where: Mapping[str, Any] | None, months: tuple[str, str] | None,
             backend: str) -> sa.Select:
    if scope is not None:
        q = q.where(t.c.township_code.in_(list(scope)))
    for name, value in (where or {}).items():
        c = _column(t, name)
        q = q.where(c.in_(list(value)) if isinstance(value, (list, tuple, set)) else c == value)
    if months is not None:
        lo, hi = months
        name = MONTH_COLUMN.get(t.name)
        c = t.c[name] if name in t.c else None
        if c is not None and isinstance(c.type, (sa.Date, sa.DateTime)):
            # a range on the column itself (index-usable), not on its formatted month
            y, m = (int(x) for x in hi.split("-"))
            end = f"{y + (m == 12):04d}-{m % 12 + 1:02d}-01"
            q = q.where(c >= sa.bindparam("m_lo", pd.Timestamp(f"{lo}-01").date(), type_=sa.Date),
                        c < sa.bindparam("m_hi", pd.Timestamp(end).date(), type_=sa.Date))
        else:
            q = q.where(month_expr(t, backend).between(lo, hi))
    return q


def aggregate(store, kind: str, by: str | Sequence[str] = "township", measures: Mapping[str, Any] | None = None,
              scope=None, where: Mapping[str, Any] | None = None, months: tuple[str, str] | None = None,
              h3_resolution: int | None = None) -> pd.DataFrame:
    """One row per group: columns township_code / month / hex (as grouped) and one per measure.

    by: "township", "month", "hex" or a sequence of them. measures: {name: "count" | (func, column)}
    with func in FUNCS (default {"n": "count"}). where: {column: value or list} (equality / IN).
    months: ('YYYY-MM', 'YYYY-MM') inclusive, on the kind's month column (MONTH_COLUMN).
    "hex" groups by H3 cell (settings.h3_resolution): the database groups by exact lon/lat and
    returns only the distinct points with their partial sums; Python assigns cells (H3 is not in
    PostGIS) and adds up — exact for count/sum/min/max, not offered for avg/count_distinct.
    """
    t = _table(kind)
    bys = [by] if isinstance(by, str) else list(by)
    if not bys or any(b not in BYS for b in bys):
        raise AggregateError(f"by must be among {', '.join(BYS)}; got {by!r}")
    measures = dict(measures or {"n": "count"})
    backend = store.kind
    keys: list[sa.ColumnElement] = []
    for b in bys:
        if b == "township":
            keys.append(t.c.township_code.label("township_code"))
        elif b == "month":
            keys.append(month_expr(t, backend).label("month"))
        else:
            if "lon" not in t.c:
                raise AggregateError(f"{kind} has no points")
            if any((s if isinstance(s, str) else s[0]) in ("avg", "count_distinct") for s in measures.values()):
                raise AggregateError("by hex: avg and count_distinct are not additive")
            keys += [t.c.lon.label("lon"), t.c.lat.label("lat")]
    q = sa.select(*keys, *[_measure(t, n, s) for n, s in measures.items()]).select_from(t)
    q = _filters(t, q, scope, where, months, backend)
    if "hex" in bys:
        q = q.where(t.c.lon.is_not(None), t.c.lat.is_not(None))
    pos = [sa.literal_column(str(i)) for i in range(1, len(keys) + 1)]  # by position: one expression, one group
    q = q.group_by(*pos).order_by(*pos)
    with store.begin(scope) as conn:
        df = pd.read_sql(q, conn)
    if "hex" in bys:
        df = _to_hex(df, bys, measures, h3_resolution)
    return df


def _to_hex(df: pd.DataFrame, bys: list[str], measures: Mapping[str, Any], resolution: int | None) -> pd.DataFrame:
    import h3

    from geodata.settings import get_settings

    res = resolution or get_settings().h3_resolution
    pts = df[["lat", "lon"]].drop_duplicates()
    cells = {(la, lo): h3.latlng_to_cell(la, lo, res) for la, lo in zip(pts["lat"], pts["lon"], strict=True)}
    df = df.assign(hex=[cells[(la, lo)] for la, lo in zip(df["lat"], df["lon"], strict=True)])
    agg = {n: {"count": "sum", "sum": "sum", "min": "min", "max": "max"}[s if isinstance(s, str) else s[0]]
           for n, s in measures.items()}
    keys = (["township_code"] if "township" in bys else []) + (["month"] if "month" in bys else []) + ["hex"]
    return df.groupby(keys, as_index=False, dropna=False).agg(agg).sort_values(keys, ignore_index=True)


def points(store, kind: str, limit: int, order_by: str | None = None, columns: Sequence[str] = (), scope=None,
           where: Mapping[str, Any] | None = None, months: tuple[str, str] | None = None) -> tuple[pd.DataFrame, int]:
    """At most `limit` located rows (lon, lat + columns), the largest `order_by` first, and how many there are.

    The browser draws a few thousand points smoothly (settings.max_points_per_layer); above that
    the map shows the first `limit` by priority and says how many were left out.
    """
    t = _table(kind)
    cols = [_column(t, c) for c in dict.fromkeys(["lon", "lat", *columns])]
    base = _filters(t, sa.select(*cols).select_from(t), scope, where, months, store.kind)
    base = base.where(t.c.lon.is_not(None), t.c.lat.is_not(None))
    order = [sa.desc(_column(t, order_by)).nulls_last()] if order_by else []
    q = base.order_by(*order, t.c.id).limit(sa.bindparam("limit", int(limit)))
    n = sa.select(sa.func.count()).select_from(base.with_only_columns(t.c.id).subquery())
    with store.begin(scope) as conn:
        df = pd.read_sql(q, conn)
        total = int(conn.execute(n).scalar_one())
    return df, total
