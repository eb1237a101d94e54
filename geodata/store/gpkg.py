"""The embedded backend: one GeoPackage file (SQLite + SpatiaLite via GeoAlchemy2's gpkg dialect).

City scale, one writer at a time (SQLite locking); PostGIS is the system of record.
Needs a Python whose sqlite3 can load extensions and the mod_spatialite library
(Debian: libsqlite3-mod-spatialite).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from geoalchemy2 import load_spatialite_gpkg
from sqlalchemy import event

from geodata import schema
from geodata.store.base import Store, StoreError, ewkt_points

os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")

_CHUNK = 5000


class GeoPackageStore(Store):
    """GeoPackage store. Upsert = delete changed rows + insert (the gpkg R-tree triggers
    reject SQLite's ON CONFLICT DO UPDATE of a geometry)."""

    kind = "gpkg"

    def _make_engine(self, url: str) -> sa.Engine:
        path = Path(url.removeprefix("gpkg:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(f"gpkg:///{path}", connect_args={"timeout": 60})
        try:
            event.listen(engine, "connect", load_spatialite_gpkg)
        except Exception as e:  # pragma: no cover - depends on the machine
            raise StoreError(str(e), "无法加载 SpatiaLite 扩展：请安装 libsqlite3-mod-spatialite") from e
        self.path = path
        return engine

    def _create(self) -> None:
        schema.metadata.create_all(self.engine)

    def _upsert_rows(self, conn: sa.Connection, t: sa.Table, key: list[str], df: pd.DataFrame) -> dict[str, int]:
        existing = pd.read_sql(sa.select(t.c.id, t.c.row_hash, *[t.c[k] for k in key]), conn)
        merged = df.merge(existing.rename(columns={"row_hash": "_old_hash", "id": "_id"}), on=key, how="left")
        is_new = merged["_id"].isna()
        changed = ~is_new & (merged["_old_hash"] != merged["row_hash"])
        if changed.any():
            ids = merged.loc[changed, "_id"].astype("int64").tolist()
            for i in range(0, len(ids), _CHUNK):
                conn.execute(t.delete().where(t.c.id.in_(ids[i : i + _CHUNK])))
        todo = merged[is_new | changed].drop(columns=["_id", "_old_hash"])
        if "geom" in t.c and len(todo):
            todo = todo.assign(geom=ewkt_points(todo["lon"], todo["lat"]))
        recs = todo.astype(object).where(pd.notna(todo), None).to_dict("records")
        for i in range(0, len(recs), _CHUNK):
            conn.execute(t.insert(), recs[i : i + _CHUNK])
        return {"inserted": int(is_new.sum()), "updated": int(changed.sum()), "unchanged": int((~is_new & ~changed).sum())}
