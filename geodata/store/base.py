"""What both store backends share: reads by scope, batches, rejected rows, audit, versioning."""

from __future__ import annotations

import json
import os
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from geodata import schema
from geodata.boundaries import demo_boundaries

Scope = Sequence[str] | None  # None: every township; else 12-digit codes


class StoreError(Exception):
    """A store problem with a log message and a Chinese message for users."""

    def __init__(self, msg: str, user_msg: str | None = None):
        super().__init__(msg)
        self.user_msg = user_msg or msg


_ENGINES: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def _forget_parent_connections() -> None:
    """In a forked child (gunicorn workers fork from the master, which opened the store to migrate it): start with
    empty pools. The pooled connections are the parent's sockets; two processes talking on one socket break each
    other's queries ("consuming input failed"). close=False leaves them to the parent (SQLAlchemy's advice for fork)."""
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


class Store:
    """Base class; subclasses set `kind`, build `engine` and implement `_create`, `_upsert_rows`.

    Thread safe as far as SQLAlchemy engines are (one connection per transaction).
    """

    kind = "base"

    def __init__(self, url: str):
        self.url = url
        self.engine = self._make_engine(url)
        _ENGINES.add(self.engine)

    # ---- lifecycle -------------------------------------------------------------------------
    def _make_engine(self, url: str) -> sa.Engine:  # pragma: no cover - abstract
        raise NotImplementedError

    def _create(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def init(self) -> None:
        """Create or migrate the schema; load the demonstration boundaries into an empty store."""
        self._create()
        with self.begin() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(schema.townships)).scalar_one()
        if n == 0:
            self.replace_townships(demo_boundaries(), source="示意边界：项目自建（近似点 Voronoi 剖分，裁剪至简化市界）")

    @contextmanager
    def begin(self, scope: Scope = None) -> Iterator[sa.Connection]:
        """One transaction; `scope` limits rows to those townships (RLS on PostGIS)."""
        with self.engine.begin() as conn:
            self._set_scope(conn, scope)
            yield conn

    def _set_scope(self, conn: sa.Connection, scope: Scope) -> None:
        """Backends with row-level security set the transaction's township scope here."""

    # ---- geography -------------------------------------------------------------------------
    def townships(self) -> gpd.GeoDataFrame:
        """The 19 units with their current boundaries (demo or imported), WGS-84."""
        t = schema.townships
        with self.begin() as conn:
            rows = conn.execute(sa.select(*[c for c in t.columns if c.name != "geom"], t.c.geom).order_by(t.c.code)).all()
        df = pd.DataFrame([r._mapping for r in rows], columns=[c.name for c in t.columns if c.name != "geom"] + ["geom"])
        geoms = [to_shape(g) if g is not None else None for g in df.pop("geom")]
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=4326))

    def replace_townships(self, gdf: gpd.GeoDataFrame, source: str = "", conn: sa.Connection | None = None) -> None:
        """Replace every township row with `gdf` (code, name, kind, is_demo, geometry) in one transaction."""
        from geodata.boundaries import area_km2
        from geodata.townships import BY_CODE, aliases_for

        gdf = gdf.to_crs(4326).reset_index(drop=True)
        is_demo = gdf["is_demo"].astype(bool) if "is_demo" in gdf else pd.Series(False, index=gdf.index)
        pts = gdf.geometry.representative_point()
        areas = area_km2(gdf)
        rows = []
        for i, (code, geom) in enumerate(zip(gdf["code"], gdf.geometry, strict=True)):
            t = BY_CODE.get(code)
            # demo boundaries keep the township's approximate point; imported ones a point inside
            lon, lat = (t.lon, t.lat) if t and is_demo.iloc[i] else (float(pts.iloc[i].x), float(pts.iloc[i].y))
            rows.append(
                {
                    "code": code,
                    "name": t.name if t else gdf["name"].iloc[i],
                    "kind": t.kind if t else None,
                    "aliases": ";".join(sorted(aliases_for(t))) if t else "",
                    "is_demo": bool(is_demo.iloc[i]),
                    "area_km2": float(areas[i]),
                    "lon": lon,
                    "lat": lat,
                    "source": source,
                    "geom": f"SRID=4326;{geom.wkt}",
                }
            )

        def _do(c: sa.Connection) -> None:
            c.execute(schema.townships.delete())
            c.execute(schema.townships.insert(), rows)
            self._bump_version(c)

        if conn is not None:
            _do(conn)
        else:
            with self.begin() as c:
                _do(c)

    def boundaries_are_demo(self) -> bool:
        with self.begin() as conn:
            return bool(conn.execute(sa.select(sa.func.max(sa.cast(schema.townships.c.is_demo, sa.Integer)))).scalar())

    # ---- reads -----------------------------------------------------------------------------
    def read(self, kind: str, scope: Scope = None, where: dict | None = None, columns: Sequence[str] | None = None,
             conn: sa.Connection | None = None) -> pd.DataFrame:
        """Rows of a kind (or system table) for a scope; spatial kinds come back as a GeoDataFrame."""
        t = schema.metadata.tables[kind]
        cols = [c for c in t.columns if c.name != "geom" and (columns is None or c.name in columns)]
        q = sa.select(*cols)
        if scope is not None and "township_code" in t.c:
            q = q.where(t.c.township_code.in_(list(scope)))
        for name, value in (where or {}).items():
            c = t.c[name]
            q = q.where(c.in_(list(value)) if isinstance(value, (list, tuple, set)) else c == value)
        if "id" in t.c:  # load order, the same on every read: layers that cap "first N after a stable sort" keep the
            q = q.order_by(t.c.id)  # same rows in every process (a heap's physical order moves with updates; no cost
        bulk = not where  # measured at province: indicators 3.58 M rows 14.2 s plain, 12.6 s ordered by the key)
        if conn is None:
            with self.begin(scope) as c:
                df = self._read_frame(c, q, bulk)
        else:
            df = self._read_frame(conn, q, bulk)
        if "lon" in df.columns and "lat" in df.columns:
            return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
        return df

    def _read_frame(self, conn: sa.Connection, q: sa.Select, bulk: bool = True) -> pd.DataFrame:
        return pd.read_sql(q, conn)

    def count(self, kind: str, scope: Scope = None) -> int:
        t = schema.metadata.tables[kind]
        q = sa.select(sa.func.count()).select_from(t)
        if scope is not None and "township_code" in t.c:
            q = q.where(t.c.township_code.in_(list(scope)))
        with self.begin(scope) as conn:
            return int(conn.execute(q).scalar_one())

    def aggregate(self, kind: str, by="township", measures=None, scope: Scope = None, where: dict | None = None,
                  months: tuple[str, str] | None = None, h3_resolution: int | None = None) -> pd.DataFrame:
        """Counts/sums by township, month and/or H3 hex computed in the database (geodata/store/aggregate.py)."""
        from geodata.store.aggregate import aggregate

        return aggregate(self, kind, by, measures, scope, where, months, h3_resolution)

    def points(self, kind: str, limit: int, order_by: str | None = None, columns: Sequence[str] = (), scope: Scope = None,
               where: dict | None = None, months: tuple[str, str] | None = None) -> tuple[pd.DataFrame, int]:
        """At most `limit` located rows, largest `order_by` first, and the total (geodata/store/aggregate.py)."""
        from geodata.store.aggregate import points

        return points(self, kind, limit, order_by, columns, scope, where, months)

    # ---- loads -----------------------------------------------------------------------------
    def new_batch(self, conn: sa.Connection, kind: str, source_file: str, user: str = "cli") -> int:
        res = conn.execute(
            schema.load_batches.insert().values(kind=kind, source_file=source_file, loaded_at=datetime.now(), user_name=user)
        )
        return int(res.inserted_primary_key[0])

    def finish_batch(self, conn: sa.Connection, batch_id: int, rows_read: int, rows_loaded: int, rows_rejected: int,
                     report: dict | None = None) -> None:
        conn.execute(
            schema.load_batches.update().where(schema.load_batches.c.id == batch_id).values(
                rows_read=rows_read, rows_loaded=rows_loaded, rows_rejected=rows_rejected,
                report=json.dumps(report or {}, ensure_ascii=False, default=str),
            )
        )
        self._bump_version(conn)

    def add_rejected(self, conn: sa.Connection, batch_id: int, kind: str, source_file: str, rejected: pd.DataFrame) -> None:
        if rejected is None or rejected.empty:
            return
        recs = pd.DataFrame(
            {
                "batch_id": batch_id, "kind": kind, "source_file": source_file,
                "source_row": rejected["source_row"].astype("int64").to_numpy(),
                "reason": rejected["reason"].astype(str).to_numpy(),
                "reason_code": rejected.get("reason_code", pd.Series([""] * len(rejected))).astype(str).to_numpy(),
                "row_json": rejected["row_json"].astype(str).to_numpy(),
            }
        )
        conn.execute(schema.rejected_rows.insert(), recs.to_dict("records"))

    def upsert(self, conn: sa.Connection, kind: str, df: pd.DataFrame, batch_id: int) -> dict[str, int]:
        """Insert or update rows of `kind` by business key; unchanged rows are left untouched.

        Returns counts {"inserted", "updated", "unchanged"}. Geometry is made from lon/lat.
        """
        t = schema.DATA_TABLES[kind]
        key = t.info["key"]
        if df.empty:
            return {"inserted": 0, "updated": 0, "unchanged": 0}
        df = prepare_rows(t, df, batch_id)
        return self._upsert_rows(conn, t, key, df)

    def _upsert_rows(  # pragma: no cover
        self, conn: sa.Connection, t: sa.Table, key: list[str], df: pd.DataFrame
    ) -> dict[str, int]:
        raise NotImplementedError

    # kinds without a point take the township of the project / employer they belong to
    RELATED = (("compliance", "project_code", "projects", "project_code"),
               ("deposits", "project_code", "projects", "project_code"),
               ("deposits", "credit_code", "enterprises", "credit_code"),
               ("indicators", "credit_code", "enterprises", "credit_code"),
               ("credit", "credit_code", "enterprises", "credit_code"))

    def fill_related_townships(self, conn: sa.Connection) -> int:
        """Give rows still without a township the one of their project/employer (loaded later)."""
        n = 0
        for child, ckey, parent, pkey in self.RELATED:
            c, p = schema.DATA_TABLES[child], schema.DATA_TABLES[parent]
            match = sa.select(p.c.township_code).where(p.c[pkey] == c.c[ckey], p.c.township_code.isnot(None))
            stmt = (c.update().where(c.c.township_code.is_(None), c.c[ckey].isnot(None), match.exists())
                    .values(township_code=match.scalar_subquery()))
            n += conn.execute(stmt).rowcount or 0
        return n

    def delete_batch(self, batch_id: int) -> int:
        """Delete every row a load batch wrote (and its rejected rows and the batch record)."""
        n = 0
        with self.begin() as conn:
            for t in schema.DATA_TABLES.values():
                n += conn.execute(t.delete().where(t.c.batch_id == batch_id)).rowcount or 0
            conn.execute(schema.rejected_rows.delete().where(schema.rejected_rows.c.batch_id == batch_id))
            conn.execute(schema.load_batches.delete().where(schema.load_batches.c.id == batch_id))
            self._bump_version(conn)
        return n

    def after_load(self, kinds: Sequence[str]) -> None:
        """Upkeep of the tables a load wrote, after its commit (statistics, index pending lists). The
        GeoPackage default needs none: its reads are keyed or whole-table."""

    # ---- versioning and audit --------------------------------------------------------------
    def _bump_version(self, conn: sa.Connection) -> None:
        m = schema.store_meta
        conn.execute(m.delete().where(m.c.key == "data_version"))
        conn.execute(m.insert().values(key="data_version", value=uuid.uuid4().hex))

    def data_version(self) -> str:
        """Changes whenever data changes (ETL load, boundary import): the cache key."""
        m = schema.store_meta
        with self.begin() as conn:
            return conn.execute(sa.select(m.c.value).where(m.c.key == "data_version")).scalar() or "empty"

    def audit(self, user: str, action: str, target: str = "", detail: str = "", conn: sa.Connection | None = None) -> None:
        stmt = schema.audit_log.insert().values(at=datetime.now(), user_name=user, action=action, target=target, detail=detail)
        if conn is not None:
            conn.execute(stmt)
        else:
            with self.begin() as c:
                c.execute(stmt)


PROVENANCE = ("batch_id", "source_file", "source_row", "row_hash")  # not part of a row's content hash
NULL_TEXT = "\\N"  # the NULL marker of the COPY text (PostGIS stage: WITH (FORMAT csv, NULL '\N'))


def prepare_rows(t: sa.Table, df: pd.DataFrame, batch_id: int) -> pd.DataFrame:
    """Keep the table's columns, stamp the batch, compute each row's content hash (`row_hashes`);
    Python values with None for missing (dates as `date`), for backends that insert records."""
    cols = _table_columns(t, df)
    n = len(df)
    out = pd.DataFrame({k: (v if v is not None else pd.Series([None] * n, index=df.index, dtype=object))
                        for k, v in cols.items()}, index=df.index)
    out["batch_id"] = batch_id
    out["row_hash"] = row_hashes(t, cols, n)
    for c in t.columns:
        if c.name in out.columns and isinstance(c.type, sa.Date) and out[c.name].dtype.kind == "M":
            out[c.name] = out[c.name].dt.date
    out = out.astype(object).where(pd.notna(out), None)
    return out.reset_index(drop=True)


def copy_text(t: sa.Table, df: pd.DataFrame, batch_id: int) -> tuple[list[str], str]:
    """The rows of `prepare_rows` as CSV text for COPY (NULL = \\N), with the same row hashes, and its column list.

    Built column by column (floats by repr, dates by numpy, text quoted only where CSV needs it),
    then interleaved into one string: about a quarter of the time of DataFrame.to_csv on the
    prepared frame (benchmarks/RESULTS.md).
    """
    cols = _table_columns(t, df)
    n = len(df)
    known: dict[str, tuple[np.ndarray, list[str], bool]] = {}  # text columns: missing, values, needs quotes
    hashes = row_hashes(t, cols, n, known)
    names = [k for k in cols if k not in PROVENANCE] + [k for k in PROVENANCE if k in t.c]
    texts = []
    for k in names:
        if k == "batch_id":
            texts.append([str(int(batch_id))] * n)
        elif k == "row_hash":
            texts.append(hashes)
        else:
            texts.append(_field_text(cols.get(k), t.c[k].type, n, known.get(k)))
    width = 2 * len(names)
    flat = [","] * (width * n)
    for j, col in enumerate(texts):
        flat[2 * j :: width] = col
    flat[width - 1 :: width] = ["\n"] * n
    return names, "".join(flat)


def _table_columns(t: sa.Table, df: pd.DataFrame) -> dict[str, pd.Series | None]:
    """The table's columns (not id, geom, batch_id, row_hash) from `df`; None where `df` lacks one; dates as datetime64."""
    out: dict[str, pd.Series | None] = {}
    for c in t.columns:
        if c.name in ("id", "geom", "batch_id", "row_hash"):
            continue
        s = df[c.name] if c.name in df.columns else None
        if s is not None and isinstance(c.type, (sa.Date, sa.DateTime)) and s.dtype.kind != "M":
            s = pd.to_datetime(s, errors="coerce")
        out[c.name] = s
    return out


# ---- row hashes: 64 bits per row, vectorised (numpy), the same in every process -------------------

_MISSING = np.uint64(0x6A09E667F3BCC909)  # a missing value, whatever the column's dtype
_K1, _K2, _K3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (uint64 arithmetic wraps around)."""
    h = (h ^ (h >> np.uint64(30))) * _K2
    h = (h ^ (h >> np.uint64(27))) * _K3
    return h ^ (h >> np.uint64(31))


def row_hashes(t: sa.Table, cols: dict[str, pd.Series | None], n: int,
               known: dict[str, tuple[np.ndarray, list[str], bool]] | None = None) -> list[str]:
    """16 hex digits per row over its content columns (all but PROVENANCE), in table order.

    Numbers, dates and booleans are hashed by value, text by its UTF-8 bytes; a missing value
    hashes the same in every dtype. The same rows give the same hashes in every process, so a
    reload of an unchanged file leaves every row as it is. `known` collects the text columns'
    (missing mask, values) for `_field_text`.
    """
    known = {} if known is None else known
    h = np.full(n, _K1, dtype=np.uint64)
    for k, s in cols.items():
        if k in PROVENANCE:
            continue
        h = _mix((h ^ _column_hash(s, n, known, k)) * _K1)
    hx = h.astype(">u8").tobytes().hex()
    return [hx[i : i + 16] for i in range(0, 16 * n, 16)]


def _column_hash(s: pd.Series | None, n: int, known: dict, name: str) -> np.ndarray:
    if s is None:
        return np.full(n, _MISSING, dtype=np.uint64)
    miss = s.isna().to_numpy(dtype=bool)
    kind = s.dtype.kind
    if kind == "f":
        bits = s.to_numpy(dtype=np.float64, na_value=0.0).view(np.uint64)
    elif kind in "iub":
        bits = s.to_numpy(dtype=np.int64, na_value=0).view(np.uint64)
    elif kind == "M":
        bits = s.to_numpy().view(np.int64).view(np.uint64)
    else:
        values = _texts(s, miss)
        enc = list(map(str.encode, values))
        joined = b"\x1f".join(enc)
        known[name] = (miss, values, any(ch in joined for ch in _CSV_SPECIAL_BYTES))
        bits = _text_hash(enc)
    return np.where(miss, _MISSING, _mix(bits ^ _K3))


def _text_hash(enc: list[bytes]) -> np.ndarray:
    """A 64-bit hash of each string's UTF-8 bytes: little-endian words, mixed word by word."""
    lens = np.fromiter(map(len, enc), dtype=np.int64, count=len(enc))
    h = lens.astype(np.uint64)
    b = np.array(enc, dtype=bytes)
    size = -(-max(b.dtype.itemsize, 1) // 8) * 8
    words = b.astype(f"S{size}").view("<u8").reshape(len(enc), size // 8)
    for j in range(words.shape[1]):
        mixed = (h ^ words[:, j]) * _K1
        mixed ^= mixed >> np.uint64(29)
        # only a string's own words: its hash must not depend on the longest string beside it
        h = np.where(lens > 8 * j, mixed, h)
    return h


# ---- field text for COPY ------------------------------------------------------------------------

_CSV_SPECIAL = (",", '"', "\n", "\r", NULL_TEXT)
_CSV_SPECIAL_BYTES = tuple(ch.encode() for ch in _CSV_SPECIAL)


def _texts(s: pd.Series, miss: np.ndarray) -> list[str]:
    """A text or object column as str values, missing as ''."""
    arr = np.array(s.to_numpy(dtype=object), dtype=object, copy=True)
    if miss.any():
        arr[miss] = ""
    if s.dtype == object and pd.api.types.infer_dtype(arr, skipna=False) != "string":
        arr = np.array([v if v.__class__ is str else str(v) for v in arr.tolist()], dtype=object)
    return arr.tolist()


def _csv_quote(v: str) -> str:
    if "," in v or '"' in v or "\n" in v or "\r" in v or v == NULL_TEXT:
        return '"' + v.replace('"', '""') + '"'
    return v


def _field_text(s: pd.Series | None, type_: sa.types.TypeEngine, n: int,
                known: tuple[np.ndarray, list[str], bool] | None = None) -> list[str]:
    """One column as COPY CSV fields: NULL_TEXT for missing, text quoted where CSV needs it."""
    if s is None:
        return [NULL_TEXT] * n
    miss = s.isna().to_numpy(dtype=bool) if known is None else known[0]
    kind = s.dtype.kind
    if kind == "f":
        out = list(map(float.__repr__, s.to_numpy(dtype=np.float64, na_value=np.nan).tolist()))
    elif kind in "iu":
        out = list(map(str, s.to_numpy(dtype=np.int64, na_value=0).tolist()))
    elif kind == "b":
        out = np.array(["false", "true"], dtype=object)[s.to_numpy(dtype=bool, na_value=False).astype(np.intp)].tolist()
    elif kind == "M":
        unit = "D" if isinstance(type_, sa.Date) else "s"
        out = np.datetime_as_string(s.to_numpy(dtype="datetime64[ns]"), unit=unit).astype(object).tolist()
    elif known is not None:  # made while hashing: values, and whether any needs quotes
        out = [_csv_quote(v) for v in known[1]] if known[2] else list(known[1])
    else:
        out = _texts(s, miss)
        probe = "\x1f".join(out)
        if any(ch in probe for ch in _CSV_SPECIAL):
            out = [_csv_quote(v) for v in out]
    if miss.any():
        for i in np.flatnonzero(miss).tolist():
            out[i] = NULL_TEXT
    return out


def ewkt_points(lon: pd.Series, lat: pd.Series) -> np.ndarray:
    """'SRID=4326;POINT(x y)' for each row with both coordinates, else None (vectorised)."""
    lon_f = pd.to_numeric(lon, errors="coerce")
    lat_f = pd.to_numeric(lat, errors="coerce")
    ok = lon_f.notna() & lat_f.notna()
    text = "SRID=4326;POINT(" + lon_f.astype(str) + " " + lat_f.astype(str) + ")"
    return np.where(ok, text, None)
