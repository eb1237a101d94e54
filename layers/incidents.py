"""Incident layer (二十三): wage-arrears mass incidents as points coloured by grade, counts per township.

Also the incident list the emergency page shows (newest first, filterable by grade and status)
and the validation of an incident entered on that page, with the same rules as ETL input.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from geodata.townships import BY_CODE, to_code
from layers.base import Filters, LayerData, LayerResult, LegendItem, memo
from layers.mapfig import choropleth_trace, point_trace
from layers.palettes import amount_classes
from layers.response import GRADE_COLORS, GRADES, STATUSES
from layers.units import as_numbers, as_text, month_end, month_start

GRADE_SIZE = {"一般": 9, "较大": 12, "重大": 15, "特别重大": 18}
INCIDENT_NO = re.compile(r"^[A-Za-z0-9\-_/]{3,40}$")


def incident_rows(incidents: pd.DataFrame | None, filters: Filters | None = None, grades=None, statuses=None) -> pd.DataFrame:
    """Incidents in the filters' month range / township, newest first, with grade/status normalised."""
    cols = ["incident_no", "occurred_at", "address", "township_code", "headcount", "grade", "status", "project_code",
            "responding_units", "description", "lon", "lat"]
    if incidents is None or len(incidents) == 0:
        incidents = pd.DataFrame(columns=cols)
    df = pd.DataFrame({c: incidents[c] if c in incidents else pd.Series(pd.NA, index=incidents.index) for c in cols})
    df["occurred_at"] = pd.to_datetime(df["occurred_at"].astype("string"), errors="coerce", format="mixed")
    df["grade"] = as_text(df["grade"]).str.removesuffix("级").where(lambda s: s.isin(GRADES), "一般")
    df["status"] = as_text(df["status"]).fillna("处置中")
    df["headcount"] = as_numbers(df["headcount"])
    df["lon"], df["lat"] = as_numbers(df["lon"]), as_numbers(df["lat"])
    f = filters or Filters()
    keep = pd.Series(True, index=df.index)
    if f.month_from:
        keep &= df["occurred_at"] >= month_start(f.month_from)
    if f.month_to:
        keep &= df["occurred_at"] < month_end(f.month_to) + pd.Timedelta(days=1)
    if f.township:
        keep &= df["township_code"] == f.township
    if grades:
        keep &= df["grade"].isin(list(grades))
    if statuses:
        keep &= df["status"].isin(list(statuses))
    return df[keep].sort_values("occurred_at", ascending=False, na_position="last").reset_index(drop=True)


class IncidentLayer:
    """欠薪突发事件：points coloured by grade (red/orange/yellow are warnings), count per township."""

    key = "incidents"
    title = "欠薪突发事件"
    kind = "incident"
    higher_is_better = False

    def build(self, data: LayerData, filters: Filters) -> LayerResult:
        """Memoised on `data` (the overview draws the incident points under every indicator); do not modify."""
        f = filters
        return memo(data, ("incidents", f.month_from, f.month_to, f.as_of, f.township), lambda: self._build(data, f))

    def _build(self, data: LayerData, filters: Filters) -> LayerResult:
        rows = incident_rows(data.incidents, filters)
        codes = data.townships["code"] if data.townships is not None and not data.townships.empty else pd.Series(dtype=str)
        counts = rows.groupby("township_code").size()
        by = pd.DataFrame({"code": codes.to_numpy()})
        by["value"] = by["code"].map(counts).fillna(0).astype(float)
        by["label"] = by["value"].astype(int).astype(str) + "起"
        pts = rows.dropna(subset=["lon", "lat"])
        when = pts["occurred_at"].dt.strftime("%Y年%m月%d日 %H:%M").fillna("")
        label = (pts["incident_no"].astype(str).map(html.escape) + " " + pts["grade"] + " · " + pts["status"]
                 + "<br>" + when + " "
                 + pts["address"].fillna("").astype(str).map(html.escape)
                 + "<br>聚集 " + pts["headcount"].fillna(0).astype(int).astype(str) + " 人")
        points = pd.DataFrame({
            "lon": pts["lon"], "lat": pts["lat"], "label": label, "color": pts["grade"].map(GRADE_COLORS),
            "size": pts["grade"].map(GRADE_SIZE), "link": "/emergency?incident=" + pts["incident_no"].astype(str),
            "grade": pts["grade"], "key": pts["incident_no"],
        })
        table = pd.DataFrame({
            "事件编号": rows["incident_no"], "发生时间": rows["occurred_at"].dt.strftime("%Y-%m-%d %H:%M"),
            "等级": rows["grade"], "状态": rows["status"], "地点": rows["address"],
            "所属乡镇": rows["township_code"].map(lambda c: BY_CODE[c].name if c in BY_CODE else ""),
            "聚集人数": rows["headcount"], "项目编号": rows["project_code"],
        })
        classes = amount_classes(by["value"], "起")
        legend = [*classes.legend(), *[LegendItem(f"{g}事件", GRADE_COLORS[g]) for g in GRADES]]
        traces = [choropleth_trace(by, classes, "突发事件数"), point_trace(points, self.title, uid="incidents")]
        return LayerResult(key=self.key, title=self.title, unit="起", by_township=by, points=points, table=table,
                           legend=legend, traces=traces)

    def export_folium(self, result: LayerResult, fmap: Any) -> None:
        import folium

        group = folium.FeatureGroup(name=self.title)
        p = result.points
        cols = [p[c].tolist() for c in ("lon", "lat", "label", "color", "size")] if not p.empty else [[]] * 5
        for lon, lat, label, color, size in zip(*cols, strict=True):
            folium.CircleMarker([lat, lon], radius=size / 2, color=color, fill=True, fill_opacity=0.85,
                                popup=folium.Popup(str(label), max_width=300)).add_to(group)  # label is escaped in build
        group.add_to(fmap)


LAYER = IncidentLayer()


# ---- incidents entered on the emergency page ---------------------------------------------------

class IncidentInputError(ValueError):
    """An incident form that cannot be saved; `errors` maps field -> Chinese message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def validate_incident(form: dict, townships_of=None) -> dict:
    """Check one incident typed on the page; return the row for store.upsert or raise IncidentInputError.

    Same rules as ETL input: required incident_no and occurred_at, grade among GRADES, headcount a
    non-negative integer, WGS-84 lon/lat inside the city (township from the point when
    `townships_of(lon, lat)` is given, else from the declared township name).
    """
    err: dict[str, str] = {}
    no = str(form.get("incident_no") or "").strip()
    if not INCIDENT_NO.match(no):
        err["incident_no"] = "事件编号必填，3-40 位字母、数字或 - _ /"
    when = pd.to_datetime(form.get("occurred_at"), errors="coerce")
    if pd.isna(when):
        err["occurred_at"] = "发生时间必填，格式如 2024-03-01 14:30"
    elif when > pd.Timestamp(datetime.now()) + pd.Timedelta(hours=1):
        err["occurred_at"] = "发生时间不能晚于现在"
    grade = str(form.get("grade") or "").strip().removesuffix("级")
    if grade not in GRADES:
        err["grade"] = f"事件等级须为：{'、'.join(GRADES)}"
    status = str(form.get("status") or "处置中").strip()
    if status not in STATUSES:
        err["status"] = f"处置状态须为：{'、'.join(STATUSES)}"
    head = pd.to_numeric(form.get("headcount"), errors="coerce")
    if form.get("headcount") not in (None, "") and (pd.isna(head) or head < 0 or head != int(head)):
        err["headcount"] = "聚集人数须为不小于 0 的整数"
    lon, lat = pd.to_numeric(form.get("lon"), errors="coerce"), pd.to_numeric(form.get("lat"), errors="coerce")
    code = to_code(form.get("township")) if form.get("township") else None
    if pd.isna(lon) or pd.isna(lat):
        err["lon"] = "请先在上方检索或输入坐标，选定事件地点"
    elif townships_of is not None:
        found = townships_of(np.array([lon]), np.array([lat]))[0]
        if not found:
            err["lon"] = f"坐标 {lon:.6f},{lat:.6f} 不在新密市范围内（须为 WGS-84 经纬度）"
        code = found or code
    if form.get("township") and code is None:
        err["township"] = "所属乡镇无法识别"
    if err:
        raise IncidentInputError(err)
    return {
        "incident_no": no, "occurred_at": when.to_pydatetime(), "grade": grade, "status": status,
        "address": str(form.get("address") or "").strip()[:200], "headcount": None if pd.isna(head) else int(head),
        "project_code": str(form.get("project_code") or "").strip() or None,
        "responding_units": str(form.get("responding_units") or "").strip()[:200] or None,
        "description": str(form.get("description") or "").strip()[:1000] or None,
        "township_code": code, "township_name": BY_CODE[code].name if code in BY_CODE else None,
        "lon": float(lon), "lat": float(lat), "geocode_method": "coord", "geocode_confidence": 1.0,
    }
