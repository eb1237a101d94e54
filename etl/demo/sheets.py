"""One demo file from a typed frame: geocoding plan, planted rejections, mess, cells, file, manifest entry.

A typed frame has one column per schema field (dates datetime64, months as month indices,
booleans, money in 万元, township as an index into place.geo(), lon/lat WGS-84) plus `_protect`
for planted search sites, which are kept clean and placed by coordinates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from etl.demo import mess, writers
from etl.demo.offices import FileSpec
from etl.demo.story import Scale
from geodata import schema
from geodata.gcj02 import wgs_to_bd, wgs_to_gcj

MONTH_FIELDS = {"month", "paid_through_month"}
REJECT_SHARE = 0.0015  # per reason and file


def build_file(rng: np.random.Generator, spec: FileSpec, scale: Scale, frame: pd.DataFrame, out_dir: Path) -> dict:
    """Write `frame` as `spec` says into out_dir; return the file's manifest entry."""
    fmt, encoding = spec.layout(scale)
    xlsx = fmt == "xlsx"
    protect = frame["_protect"].to_numpy(dtype=bool) if "_protect" in frame else np.zeros(len(frame), dtype=bool)
    df = frame.copy()
    df["_protect"] = protect
    if spec.geocode:
        df = mess.apply_geocoding(rng, df, spec.geocode, protect)
    df = mess.plant(rng, df, spec.rules, REJECT_SHARE, df["_protect"].to_numpy(dtype=bool))
    protect = df["_protect"].fillna(False).to_numpy(dtype=bool)
    mismatch = 0
    if spec.mismatch and spec.geocode:
        ok = (df["_method"] == "coord").to_numpy() & df["_reject"].isna().to_numpy() & ~protect
        k = np.flatnonzero(ok & (rng.random(len(df)) < spec.mismatch))
        df.loc[k, "township_name"] = (df.loc[k, "township_name"].to_numpy() + rng.integers(1, 19, len(k))) % 19
        mismatch = len(k)
    table = schema.DATA_TABLES[spec.kind]
    cells: dict[str, np.ndarray] = {}
    stats: dict[str, dict] = {"full_width": {}, "spaces": {}}
    for f in spec.headers:
        if f in ("lon", "lat"):
            continue
        cells[f] = np.array(
            _cells(rng, spec, f, table.c[f] if f in table.c else None, df[f].to_numpy(), xlsx, stats), dtype=object
        )
    if spec.geocode:
        cells["lon"], cells["lat"] = _coords(df, spec.crs, xlsx)
        method = df["_method"].to_numpy()
        if "address" in cells:
            cells["address"][method == "township"] = None
    clean = {f: cells[f][protect].copy() for f in cells} if protect.any() else {}
    for f, share in spec.full_width.items():
        stats["full_width"][f] = mess.full_width(rng, cells[f], share)
    for f, share in spec.spaces.items():
        stats["spaces"][f] = mess.stray_spaces(rng, cells[f], share)
    for f in clean:  # planted sites stay exactly as recorded
        cells[f][protect] = clean[f]
    headers = list(spec.headers.values())
    columns = [cells[f] for f in spec.headers]
    path = out_dir / spec.file_name(scale)
    if xlsx:
        groups = [(label, [list(spec.headers).index(f) for f in fields]) for label, fields in spec.groups]
        layout = writers.write_xlsx(
            path, headers, columns, spec.title, f"填报单位：{spec.office}    数据截至：2026年10月31日", groups
        )
    else:
        layout = writers.write_csv(path, headers, columns, encoding)
    return _entry(spec, path, fmt, encoding, layout, df, stats, mismatch)


def _cells(
    rng: np.random.Generator, spec: FileSpec, f: str, col: sa.Column | None, v: np.ndarray, xlsx: bool, stats: dict
) -> np.ndarray:
    """Typed values of one field -> cells, formatted the way this office writes them."""
    t = col.type if col is not None else sa.String()
    if f in MONTH_FIELDS:
        return mess.months(rng, pd.Series(v).fillna(-1).to_numpy(dtype=np.int64), spec.months, xlsx)
    if f == "township_name":
        names, n_old = mess.township_names(rng, pd.Series(v).to_numpy(dtype=np.int64), spec.old_names)
        stats["old_township_names"] = n_old
        return names
    if isinstance(t, sa.DateTime):
        return mess.datetimes(rng, v, spec.dates, xlsx)
    if isinstance(t, sa.Date):
        return mess.dates(rng, v, spec.dates, xlsx)
    if isinstance(t, sa.Boolean):
        return mess.bools(rng, v, spec.bools)
    if isinstance(t, sa.Integer):
        return mess.numbers(pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(dtype=float), 0, xlsx)
    if isinstance(t, sa.Float):
        money = col.info.get("unit") == "万元"
        if f == "rate" and not xlsx:  # 缴存比例 as 0.02 or 2%
            x = pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(dtype=float)
            out = mess.numbers(x, 3, False)
            pct = np.flatnonzero(~np.isnan(x) & (rng.random(len(x)) < 0.4))
            out[pct] = [f"{val * 100:g}%" for val in x[pct]]
            return out
        scale = 1e4 if (money and spec.yuan) else 1.0
        dec = 3 if f == "rate" else 0 if f in ("electricity_kwh", "water_m3") else 2
        x = pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(dtype=float)
        return mess.numbers(x, dec, xlsx, scale, 0.1 if scale > 1 else 0.0, rng)
    return mess.texts(v)


def _coords(df: pd.DataFrame, crs: str, xlsx: bool) -> tuple[np.ndarray, np.ndarray]:
    """lon/lat cells in the file's CRS; gazetteer/township rows blank; coord_swapped rows exchanged."""
    lon = df["lon"].to_numpy(dtype=float)
    lat = df["lat"].to_numpy(dtype=float)
    if crs == "gcj02":
        lon, lat = wgs_to_gcj(lon, lat)
    elif crs == "bd09":
        lon, lat = wgs_to_bd(lon, lat)
    method = df["_method"].to_numpy()
    swap = method == "coord_swapped"
    lon, lat = np.where(swap, lat, lon), np.where(swap, lon, lat)
    blank = ~np.isin(method, ["coord", "coord_swapped"])
    lon[blank], lat[blank] = np.nan, np.nan
    return mess.numbers(lon, 6, xlsx), mess.numbers(lat, 6, xlsx)


def _entry(
    spec: FileSpec, path: Path, fmt: str, encoding: str | None, layout: dict, df: pd.DataFrame, stats: dict, mismatch: int
) -> dict:
    reject = df["_reject"].to_numpy()
    rows = np.flatnonzero(pd.notna(reject))
    first = layout["first_data_row"]
    kept = pd.isna(reject)
    geocode = {}
    if spec.geocode:
        vc = pd.Series(df["_method"].to_numpy()[kept]).value_counts()
        geocode = {m: int(vc.get(m, 0)) for m in ("coord", "coord_swapped", "gazetteer", "township")}
    units = {}
    for f, h in spec.headers.items():
        u = "元" if ("(元)" in h or "（元）" in h) else "万元" if "万元" in h else None
        if u:
            units[f] = u
    return {
        "file": path.name,
        "kind": spec.kind,
        "office": spec.office,
        "format": fmt,
        "encoding": encoding,
        "crs": spec.crs,
        **layout,
        "rows": int(len(df)),
        "rows_expected_loaded": int(kept.sum()),
        "rows_expected_rejected": int(len(rows)),
        "rejected": {r: int((reject == r).sum()) for r in mess.REASONS if (reject == r).any()},
        "rejected_rows": [[int(first + i), str(reject[i])] for i in rows],
        "geocode": geocode,
        "township_mismatch": int(mismatch),
        "columns": {h: f for f, h in spec.headers.items()},
        "units": units,
        "mess": {k: v for k, v in stats.items() if v},
    }
