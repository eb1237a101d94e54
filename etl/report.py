"""The load report: JSON per file (DESIGN §6) and a readable rich summary with progress bars."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl.validate import REASONS
from geodata import schema

METHOD_ZH = {
    "coord": "坐标",
    "coord_swapped": "坐标（经纬度互换已修正）",
    "gazetteer": "地名匹配",
    "gazetteer_fuzzy": "地名模糊匹配",
    "township": "乡镇中心点",
    "none": "未定位",
}
SOURCE_ZH = {"project": "按项目", "enterprise": "按单位", "unit_code": "按单位代码", "none": "未确定"}
KIND_ZH = {**schema.KIND_ZH, "gazetteer": "村（社区）名录"}
BIG_FILE_ROWS = 20_000  # files at least this long get a row progress bar


def counts(values: pd.Series) -> dict[str, int]:
    """{value: count} with plain ints, most frequent first (ties: first seen first, as Counter.most_common).

    Counted over codes (factorize + bincount): millions of rows, a handful of distinct values.
    """
    codes, uniq = pd.factorize(pd.Series(values), use_na_sentinel=True)
    n = np.bincount(codes[codes >= 0], minlength=len(uniq))
    merged: dict[str, int] = {}
    for value, c in zip(uniq, n.tolist(), strict=True):  # first-seen order; equal texts add up
        merged[str(value)] = merged.get(str(value), 0) + c
    return dict(sorted(merged.items(), key=lambda kv: -kv[1]))  # sorted() is stable


def file_report(*, file: str, kind: str, rows_read: int, loaded: pd.DataFrame, rejected: pd.DataFrame, **extra) -> dict:
    """One file's (one kind's) report; asserts rows_read = rows_loaded + rows_rejected."""
    rep = {
        "file": file,
        "kind": kind,
        "kind_zh": KIND_ZH.get(kind, kind),
        "rows_read": int(rows_read),
        "rows_loaded": int(len(loaded)),
        "rows_rejected": int(len(rejected)),
        "rejected_by_reason": counts(rejected["reason_code"]) if len(rejected) else {},
        "geocoded_by_method": counts(loaded["geocode_method"]) if "geocode_method" in loaded and len(loaded) else {},
    }
    rep["rejected_by_reason_zh"] = {REASONS.get(k, k): v for k, v in rep["rejected_by_reason"].items()}
    if "township_mismatch" in loaded:
        rep["township_mismatch"] = int(loaded["township_mismatch"].fillna(False).astype(bool).sum())
    rep.update(extra)
    assert rep["rows_read"] == rep["rows_loaded"] + rep["rows_rejected"], f"row accounting broken for {file}: {rep}"
    return rep


def run_report(files: list[dict], **extra) -> dict:
    """The whole run: every file's report plus totals."""
    totals = {k: sum(f[k] for f in files) for k in ("rows_read", "rows_loaded", "rows_rejected")}
    assert totals["rows_read"] == totals["rows_loaded"] + totals["rows_rejected"]
    return {"files": files, "totals": totals, **extra}


def write_json(report: dict, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return p


def summary_table(report: dict) -> Table:
    """One line per file: rows read/loaded/rejected, top reasons, geocoding methods."""
    t = Table(title="导入结果", show_lines=False)
    for col, just in (
        ("文件", "left"),
        ("类型", "left"),
        ("读取", "right"),
        ("导入", "right"),
        ("拒绝", "right"),
        ("拒绝原因", "left"),
        ("定位方式", "left"),
    ):
        t.add_column(col, justify=just)
    for f in report["files"]:
        reasons = "，".join(f"{k} {v}" for k, v in list(f.get("rejected_by_reason_zh", {}).items())[:4])
        if f.get("geocoded_by_method"):
            placed = "，".join(f"{METHOD_ZH.get(k, k)} {v}" for k, v in f["geocoded_by_method"].items())
        else:
            placed = "，".join(f"{SOURCE_ZH.get(k, k)} {v}" for k, v in f.get("township_by_source", {}).items())
        if f.get("township_mismatch"):
            placed += f"；乡镇不一致 {f['township_mismatch']}"
        t.add_row(
            Path(f["file"]).name,
            f["kind_zh"],
            f"{f['rows_read']:,}",
            f"{f['rows_loaded']:,}",
            f"[red]{f['rows_rejected']:,}[/red]" if f["rows_rejected"] else "0",
            reasons or "-",
            placed or "-",
        )
    tot = report["totals"]
    t.add_row("[b]合计[/b]", "", f"{tot['rows_read']:,}", f"{tot['rows_loaded']:,}", f"{tot['rows_rejected']:,}", "", "")
    return t


def print_summary(report: dict, console: Console | None = None) -> None:
    console = console or Console(stderr=True)
    console.print(summary_table(report))
    secs = report.get("seconds")
    if secs:
        console.print(
            f"用时 {secs:.1f} 秒，{report['totals']['rows_read'] / max(secs, 1e-9):,.0f} 行/秒；"
            f"被拒绝的行及原因见「数据」页或 rejected_rows 表。"
        )


class Reporter:
    """Progress display for a run: a bar per step list, a row bar for big files. Silent when disabled."""

    def __init__(self, enabled: bool = True, console: Console | None = None):
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None

    @contextmanager
    def live(self):
        if not self.enabled:
            yield self
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        with self._progress:
            yield self
        self._progress = None

    def task(self, description: str, total: int) -> int | None:
        if self._progress is None:
            return None
        return self._progress.add_task(description, total=total)

    def advance(self, task: int | None, n: int = 1) -> None:
        if self._progress is not None and task is not None:
            self._progress.advance(task, n)
