"""The demo manifest: what every file holds and what the ETL must make of it; and the village list file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from etl.demo import place, writers

MANIFEST_NAME = "manifest.json"
GAZETTEER_NAME = "00_民政局_村社区名录.csv"
GAZETTEER_HEADERS = {
    "code": "区划代码",
    "name": "村（社区）名称",
    "township_code": "所属乡镇代码",
    "township_name": "所属乡镇",
    "kind": "类型",
    "lon": "经度",
    "lat": "纬度",
}


def write_gazetteer(out_dir: Path) -> dict:
    """The demo's village/community list, as the 民政 office would send it (UTF-8 with BOM, WGS-84)."""
    v = place.villages()
    cols = [
        v[f].to_numpy(dtype=object) if f not in ("lon", "lat") else np.char.mod("%.6f", v[f].to_numpy()).astype(object)
        for f in GAZETTEER_HEADERS
    ]
    path = out_dir / GAZETTEER_NAME
    layout = writers.write_csv(path, list(GAZETTEER_HEADERS.values()), cols, "utf-8-sig")
    return {
        "file": path.name,
        "kind": "gazetteer",
        "office": "市民政局",
        "format": "csv",
        "encoding": "utf-8-sig",
        "crs": "wgs84",
        **layout,
        "rows": int(len(v)),
        "rows_expected_loaded": int(len(v)),
        "rows_expected_rejected": 0,
        "rejected": {},
        "rejected_rows": [],
        "geocode": {},
        "township_mismatch": 0,
        "columns": {h: f for f, h in GAZETTEER_HEADERS.items()},
        "units": {},
        "mess": {},
        "note": "村/社区名录（示例）：与项目自带的示例地名库相同；正式部署时换成民政部门的名录导入",
    }


def build(seed: int, scale_name: str, files: list[dict], sites: list[dict], story: dict, villages: dict) -> dict:
    """The manifest dict: per file and in total, what was written and what the ETL must report.

    `files` are the data files, each loadable with `wagemap etl load FILE --crs CRS`; the village
    list (`villages`) is not an ETL kind and is listed apart under "gazetteer".
    """
    totals: dict[str, dict] = {}
    for f in files:
        t = totals.setdefault(f["kind"], {"files": 0, "rows": 0, "rows_expected_loaded": 0, "rejected": {}, "geocode": {}})
        t["files"] += 1
        t["rows"] += f["rows"]
        t["rows_expected_loaded"] += f["rows_expected_loaded"]
        for k, v in f["rejected"].items():
            t["rejected"][k] = t["rejected"].get(k, 0) + v
        for k, v in f["geocode"].items():
            t["geocode"][k] = t["geocode"].get(k, 0) + v
    return {
        "generator": "wagemap demo",
        "seed": int(seed),
        "scale": scale_name,
        "map": "新密市 19 个乡镇级单位的示意边界（demo boundaries）；所有名称、人员、号码均为虚构",
        "source_row_convention": (
            "1-based Excel/csv row numbers; the header row is its own row; a duplicate's later copy is the rejected one"
        ),
        "reason_codes": ["missing_required", "bad_credit_code", "duplicate_key", "outside_city", "date_order", "negative_value"],
        "geocode_methods": ["coord", "coord_swapped", "gazetteer", "township"],
        "files": files,
        "gazetteer": villages,
        "totals": totals,
        "planted_sites": sites,
        "story": story,
    }


def write(out_dir: Path, manifest: dict) -> Path:
    """manifest.json next to the files (UTF-8, keys in order, stable bytes)."""
    path = out_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
