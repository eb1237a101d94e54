"""The ETL run: read -> normalise -> validate -> geocode -> assign_township -> load -> report.

    from etl.pipeline import load_files
    report = load_files(store, ["项目台账.xlsx", "案件.csv"], crs="gcj02", mapping=["工程名=name"])

Every file is read and checked as usable before anything is written (UnusableInput otherwise);
then all files are transformed in memory and written in ONE transaction, so a failure or a
killed process leaves the store as it was. Rows are upserted by business key (a reload of the
same file changes nothing) and stamped with their load batch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from etl import gazetteer as gz
from etl import kinds
from etl.coords import parse_crs
from etl.errors import MissingColumns, UnusableInput
from etl.geocode import Geography, assign_township, geocode, related_township
from etl.normalise import Normalised, normalise, select_fields
from etl.read import Sheet, read_file
from etl.report import BIG_FILE_ROWS, Reporter, counts, file_report, print_summary, run_report, write_json
from etl.validate import Checked, row_json, validate
from geodata import schema

GAZETTEER = "gazetteer"  # a village list in the same run: loaded into the gazetteer table, first
CHUNK_ROWS = 50_000  # rows per upsert call (progress steps; bounded memory on the database side)


@dataclass(eq=False)
class Unit:
    """One file's sheets of one kind: what becomes one load batch."""

    path: str
    kind: str
    sheets: list[Sheet]
    maps: list[kinds.HeaderMap]
    notes: list[str] = field(default_factory=list)
    rows: pd.DataFrame | None = None  # rows to load
    rejected: pd.DataFrame | None = None  # source_row, reason, reason_code, row_json
    extra: dict = field(default_factory=dict)  # report fields

    @property
    def rows_read(self) -> int:
        return int(sum(len(s.data) for s in self.sheets))

    @property
    def source_file(self) -> str:
        return Path(self.path).name


# ---- the steps ---------------------------------------------------------------------------------


def read(path: str | Path, kind: str | None = None, mapping: dict[str, str] | None = None) -> list[Unit]:
    """Read a file and map each sheet's headers to a kind; raise UnusableInput when no sheet is usable."""
    keys = kinds.all_header_keys() | frozenset(mapping or {})
    sheets = read_file(path, keys)
    by_kind: dict[str, Unit] = {}
    errors: list[UnusableInput] = []
    skipped: list[str] = []
    for sheet in sheets:
        if kind == GAZETTEER:
            continue
        try:
            hm = kinds.resolve(sheet.headers, kind, mapping, file=_where(path, sheet, len(sheets)))
        except UnusableInput as e:
            errors.append(e)
            skipped.append(f"工作表 {sheet.sheet}：{e.user_msg}" if sheet.sheet else e.user_msg)
            continue
        unit = by_kind.setdefault(hm.kind, Unit(str(path), hm.kind, [], []))
        unit.sheets.append(sheet)
        unit.maps.append(hm)
    for e in errors:  # a sheet of a kind this file holds, but missing a column: unusable, not skipped
        if isinstance(e, MissingColumns) and e.kind in by_kind:
            raise e
    if kind in (None, GAZETTEER):
        village = [
            s
            for s in sheets
            if s not in [x for u in by_kind.values() for x in u.sheets] and gz.looks_like_village_list(s.headers, mapping)
        ]
        if village:
            maps = [kinds.HeaderMap(GAZETTEER, gz.village_columns(s.headers, mapping)) for s in village]
            by_kind[GAZETTEER] = Unit(str(path), GAZETTEER, village, maps)
    if not by_kind:
        if errors:
            raise errors[0]
        raise MissingColumns(
            f"{path}: no village list columns",
            f"文件 {path}：不是村（社区）名录，缺少名称列和所属乡镇列；可用列名：名称/村名/村（社区）名称，所属乡镇/区划代码；"
            "或用 --map 源列=name",
            file=str(path),
            missing=["name", "township"],
        )
    units = list(by_kind.values())
    for u in units:
        u.notes = skipped + [n for s in u.sheets for n in s.notes]
    return units


def transform(unit: Unit, geo: Geography | None, crs: str, lookups: dict[str, pd.Series]) -> Unit:
    """normalise -> validate -> geocode -> assign_township (or related township) for one unit, in memory."""
    if unit.kind == GAZETTEER:
        return _transform_village_list(unit, crs)
    norms, origin = [], []
    offset = 0
    for i, (sheet, hm) in enumerate(zip(unit.sheets, unit.maps, strict=False)):
        f = select_fields(sheet.data, hm)
        src = f.index.to_numpy()
        f.index = pd.RangeIndex(offset, offset + len(f))
        norms.append(normalise(f, unit.kind, hm.units, source_row=src))
        origin.append(pd.DataFrame({"sheet": i, "source_row": src}, index=f.index))
        offset += len(f)
    norm = _concat(norms)
    origin_df = pd.concat(origin) if origin else pd.DataFrame(columns=["sheet", "source_row"])
    extra = (
        pd.concat([pd.Series(s.extra.to_numpy(), index=o.index) for s, o in zip(unit.sheets, origin, strict=False)])
        if origin
        else None
    )
    checked: Checked = validate(norm, unit.kind, extra)
    rows = checked.good
    rejected = [checked.rejected]
    if kinds.is_spatial(unit.kind):
        g = geocode(rows, geo, crs)
        rejected.append(g.rejected)
        rows = assign_township(g.data, geo)
    else:
        rows = rows.copy()
        rows["township_code"], source = related_township(rows, unit.kind, lookups)
        unit.extra["township_by_source"] = counts(source)
    rows["source_file"] = unit.source_file
    rej = (
        pd.concat([r for r in rejected if len(r)])
        if any(len(r) for r in rejected)
        else pd.DataFrame(columns=["source_row", "reason", "reason_code"])
    )
    rej = rej.sort_index()
    rej["row_json"] = _row_json(unit, origin_df, rej.index)
    unit.rows, unit.rejected = rows.reset_index(drop=True), rej.reset_index(drop=True)
    unit.extra.update(
        {
            "sheets": [s.sheet for s in unit.sheets if s.sheet],
            "encoding": next((s.encoding for s in unit.sheets if s.encoding), None),
            "header_row": unit.sheets[0].header_row if unit.sheets else None,
            "columns": {h: f for hm in unit.maps for h, f in hm.columns.items()},
            "units": {f: u for hm in unit.maps for f, u in hm.units.items()},
            "ignored_columns": sorted({h for hm in unit.maps for h in hm.ignored}),
            "notes": unit.notes,
        }
    )
    if kinds.is_spatial(unit.kind):
        unit.extra["crs"] = crs
    return unit


def load(store, conn, unit: Unit, user: str, reporter: Reporter | None = None) -> dict:
    """Write one unit in the caller's transaction: batch, upserts in chunks, rejected rows, batch totals."""
    batch = store.new_batch(conn, unit.kind, unit.source_file, user)
    done = {"inserted": 0, "updated": 0, "unchanged": 0}
    rows = unit.rows
    if unit.kind == GAZETTEER:  # the village list replaces the whole gazetteer
        done["inserted"] = gz.write_entries(conn, rows, replace=True)
        rows = rows.iloc[0:0]
    task = reporter.task(f"写入 {unit.source_file}", len(rows)) if reporter and len(rows) >= BIG_FILE_ROWS else None
    for start in range(0, len(rows), CHUNK_ROWS):
        part = rows.iloc[start : start + CHUNK_ROWS]
        for k, v in store.upsert(conn, unit.kind, part, batch).items():
            done[k] += int(v)
        if reporter:
            reporter.advance(task, len(part))
    # the rejected rows of a file are those of its latest load: a corrected reload clears the old ones
    rr = schema.rejected_rows
    conn.execute(rr.delete().where(rr.c.kind == unit.kind, rr.c.source_file == unit.source_file))
    store.add_rejected(conn, batch, unit.kind, unit.source_file, unit.rejected)
    rep = file_report(
        file=unit.path,
        kind=unit.kind,
        rows_read=unit.rows_read,
        loaded=unit.rows,
        rejected=unit.rejected,
        batch_id=batch,
        **done,
        **unit.extra,
    )
    store.finish_batch(conn, batch, rep["rows_read"], rep["rows_loaded"], rep["rows_rejected"], rep)
    return rep


def load_files(
    store,
    paths,
    kind: str | None = None,
    crs: str | None = None,
    mapping=None,
    user: str = "cli",
    report_path: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Load files into the store in one transaction and return the run report (see etl.report).

    kind: one of DESIGN §4's kinds, else detected per sheet from its headers. crs: the declared
    CRS of coordinates in these files (wgs84 | gcj02 | bd09 | EPSG:n). mapping: `["源列=field"]`
    or {源列: field}. Raises UnusableInput (nothing written) for unreadable files, unknown kinds,
    missing required columns, bad options.
    """
    t0 = time.perf_counter()
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    crs_name = parse_crs(crs)
    mapping_keys = kinds.parse_mapping(mapping)
    reporter = Reporter(progress)
    with reporter.live():
        task = reporter.task("读取文件", len(paths))
        units = []
        for p in paths:  # every file is read and found usable before anything is written
            units.extend(read(p, kind, mapping_keys))
            reporter.advance(task)
        units.sort(key=lambda u: kinds.LOAD_ORDER.index(u.kind))
        geo = None
        lookups = _lookups(store, units)
        task = reporter.task("清洗、校验、定位", len(units))
        for u in units:
            if geo is None and kinds.is_spatial(u.kind):
                village = [x.rows for x in units if x.kind == GAZETTEER and x.rows is not None]
                entries = pd.concat(village, ignore_index=True)[gz.COLUMNS] if village else gz.entries(store)
                geo = Geography.build(store.townships(), entries)
            transform(u, geo, crs_name, lookups)
            _remember(lookups, u)
            reporter.advance(task)
        files = []
        with store.begin() as conn:
            for u in units:
                files.append(load(store, conn, u, user, reporter))
            if any(u.kind in ("projects", "enterprises") for u in units):
                store.fill_related_townships(conn)  # rows loaded before their project/employer
            store.audit(user, "load", ", ".join(str(p) for p in paths), _audit_text(files), conn=conn)
        store.after_load([u.kind for u in units])
    secs = time.perf_counter() - t0
    report = run_report(
        files,
        store=store.kind,
        user=user,
        seconds=round(secs, 3),
        rows_per_second=round(sum(f["rows_read"] for f in files) / max(secs, 1e-9)),
    )
    if report_path:
        write_json(report, report_path)
    if progress:
        print_summary(report, reporter.console)
    return report


# ---- helpers -----------------------------------------------------------------------------------


def _transform_village_list(unit: Unit, crs: str) -> Unit:
    """The village list: entries for the gazetteer table, rejected rows with reasons."""
    goods, rejs = [], []
    for sheet, hm in zip(unit.sheets, unit.maps, strict=False):
        good, rej = gz.village_entries(sheet.data[list(hm.columns)].rename(columns=hm.columns), unit.source_file, crs)
        rej["row_json"] = row_json(sheet.data, pd.Index(rej["source_row"])).to_numpy() if len(rej) else []
        goods.append(good)
        rejs.append(rej)
    unit.rows = pd.concat(goods, ignore_index=True)
    unit.rejected = pd.concat(rejs, ignore_index=True)
    unit.extra.update(
        {
            "sheets": [s.sheet for s in unit.sheets if s.sheet],
            "columns": {h: f for hm in unit.maps for h, f in hm.columns.items()},
            "notes": ["村（社区）名录：替换全部地名库条目"],
        }
    )
    return unit


def _where(path, sheet: Sheet, n_sheets: int) -> str:
    return f"{path}（工作表 {sheet.sheet}）" if sheet.sheet and n_sheets > 1 else str(path)


def _concat(norms: list[Normalised]) -> Normalised:
    if len(norms) == 1:
        return norms[0]
    data = pd.concat([n.data for n in norms])
    raw = pd.concat([n.raw for n in norms])
    bad, codes = {}, {}
    for n in norms:
        for f, m in n.bad.items():
            bad[f] = m if f not in bad else pd.concat([bad[f], m])
            codes[f] = n.bad_code[f]
    bad = {f: m.reindex(data.index, fill_value=False) for f, m in bad.items()}
    return Normalised(data, raw, bad, codes)


def _row_json(unit: Unit, origin: pd.DataFrame, positions: pd.Index) -> pd.Series:
    """The rejected rows' source cells, with the sheet name when the file has several sheets."""
    out = pd.Series("", index=positions, dtype="object")
    if len(positions) == 0:
        return out
    where = origin.loc[positions]
    for i, grp in where.groupby("sheet"):
        sheet = unit.sheets[int(i)]
        text = row_json(sheet.data, pd.Index(grp["source_row"].to_numpy()))
        if sheet.sheet and len(unit.sheets) > 1:
            text = '{"工作表":' + json.dumps(sheet.sheet, ensure_ascii=False) + "," + text.str.slice(1)
        out.loc[grp.index] = np.asarray(text)
    return out


def _lookups(store, units: list[Unit]) -> dict[str, pd.Series]:
    """project_code / credit_code -> township_code from the store, only for kinds that need them."""
    need = {u.kind for u in units}
    out: dict[str, pd.Series] = {}
    if need & {"compliance", "deposits"}:
        out["projects"] = _code_map(store.read("projects", columns=["project_code", "township_code"]), "project_code")
    if need & {"deposits", "indicators", "credit"}:
        out["enterprises"] = _code_map(store.read("enterprises", columns=["credit_code", "township_code"]), "credit_code")
    return out


def _code_map(df: pd.DataFrame, key: str) -> pd.Series:
    df = pd.DataFrame(df)[[key, "township_code"]].dropna()
    return df.drop_duplicates(key, keep="last").set_index(key)["township_code"]


def _remember(lookups: dict[str, pd.Series], unit: Unit) -> None:
    """Rows of this run win over the store for later files (projects before compliance, ...)."""
    key = {"projects": "project_code", "enterprises": "credit_code"}.get(unit.kind)
    if key is None or unit.rows is None or not len(unit.rows):
        return
    new = _code_map(unit.rows, key)
    old = lookups.get(unit.kind, pd.Series(dtype="object"))
    lookups[unit.kind] = pd.concat([old[~old.index.isin(new.index)], new])


def _audit_text(files: list[dict]) -> str:
    parts = [
        f"{Path(f['file']).name}:{f['kind']} 读取{f['rows_read']} 导入{f['rows_loaded']} 拒绝{f['rows_rejected']}" for f in files
    ]
    return "; ".join(parts)


__all__ = ["load_files", "read", "transform", "load", "Unit"]
