"""Data for the pages: the only place pages and downloads get data (store reads + layers), cached.

Every function takes `scope` (None = all townships, or a list of 12-digit codes, from
`access.current_scope()`) and the view's filters, and returns plain data (dicts, lists, frames
the caller must not modify). Results are cached per app, keyed by (function, store, data
version, scope, arguments): an ETL load changes the data version and so invalidates them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import date
from typing import Any

import geopandas as gpd
import pandas as pd

from dashboard import remote
from dashboard.cache import (  # noqa: F401 - re-exported: callers and tests use them as services.<name>
    CACHE_SIZE,
    DISK_CACHE_BYTES,
    RAW,
    Context,
    _cached,
    _ctx,
    attach,
    code_version,
    forget_window,
    put,
    put_later,
    release_rows,
    resident_rows,
    scope_key,
    settings,
    store,
)
from dashboard.tables import columns as _columns  # noqa: F401 - tests use services._columns
from dashboard.tables import digest as _digest
from dashboard.tables import table_columns as _table_columns
from dashboard.tables import with_links as _with_links
from geodata.store import StoreError
from layers import arrears, coverage, gaps, kpi, mapfig, registry, trend
from layers import incidents as incident_layer
from layers.base import Filters, LayerData, LayerResult
from layers.palettes import NEUTRAL, OK, WARNING
from layers.units import add_months, fmt_month

DATA_KINDS = ("projects", "enterprises", "compliance", "deposits", "cases", "incidents", "funds", "indicators", "credit")
POINT_SETS = {"projects": "工程项目", "cases": "欠薪案件", "incidents": "突发事件"}
GRID_ROWS = 2000  # rows a page's grid receives; the xlsx export has them all (province: 8,000+ per township)
log = logging.getLogger(__name__)


class ServiceError(StoreError):
    """A request the services cannot answer; `user_msg` is shown (Chinese)."""


# ---- base reads ------------------------------------------------------------------------------


def townships(scope: Sequence[str] | None) -> gpd.GeoDataFrame:
    """The townships the scope covers, with boundaries (WGS-84)."""
    def build() -> gpd.GeoDataFrame:
        t = _ctx().store.townships()
        if scope is not None:
            t = t[t["code"].isin(list(scope))].reset_index(drop=True)
        return t

    return _cached("townships", scope, (), build)


def township_names(scope: Sequence[str] | None) -> dict[str, str]:
    t = townships(scope)
    return dict(zip(t["code"].astype(str), t["name"].astype(str), strict=True))


def boundaries_are_demo(scope: Sequence[str] | None) -> bool:
    t = townships(scope)
    return bool(t["is_demo"].fillna(True).astype(bool).any()) if len(t) else True


class _LazyData(LayerData):
    """A LayerData whose kinds are read from the store on first use, each once per scope and data version.

    A view that needs only cases and projects never reads the 3.6 M monthly indicator rows of the
    province scenario; every window of a scope shares the frames (`kind_frame`), while the layers'
    memo (project status, case state) lives on each window's own object.
    """

    def __init__(self, scope: Sequence[str] | None):  # noqa: D107 - fields are filled on first access
        self.__dict__["_scope"] = scope
        self.townships = townships(scope)

    def __getattr__(self, name: str) -> Any:
        if name in DATA_KINDS:
            df = kind_frame(self.__dict__["_scope"], name)
            self.__dict__[name] = df
            return df
        raise AttributeError(name)


def kind_frame(scope: Sequence[str] | None, kind: str) -> pd.DataFrame:
    """Every row of one data kind for the scope (read through the store's scope ceiling), once per data version."""
    def build() -> pd.DataFrame:
        df = _ctx().store.read(kind, scope=scope)
        _ctx().rows_read += len(df)
        return df

    return _cached("kind", scope, (kind,), build)


def layer_data(scope: Sequence[str] | None) -> LayerData:
    """Every data kind the pages use, for the scope; kinds are read on first use (see `_LazyData`)."""
    return window_data(scope, None, None)


def window_data(scope: Sequence[str] | None, month_to: str | None, township: str | None = None) -> LayerData:
    """One LayerData per (scope, data version, reference month, township): the layers memoise project
    status and case state on it, so every view of that window (each indicator, the worklist, every
    project page) shares one computation instead of redoing it per view (benchmarks/RESULTS.md)."""
    return _cached("window_data", scope, (month_to, township), lambda: _LazyData(scope))


def has_data(scope: Sequence[str] | None) -> bool:
    """Whether the scope has any projects, cases, incidents or enterprises to show (counted in the store)."""
    def build() -> bool:
        st = _ctx().store
        return any(st.count(k, scope=scope) for k in ("projects", "cases", "incidents", "enterprises"))

    return _cached("has_data", scope, (), build)


def months(scope: Sequence[str] | None) -> list[str]:
    """Months ('YYYY-MM') with data (monthly reports, cases, incidents, project starts), up to this month.

    Counted in the database (`store.aggregate(by="month")`), not by reading the rows.
    """
    def build() -> list[str]:
        st = _ctx().store
        found: set[str] = set()
        for kind in ("compliance", "cases", "incidents", "projects"):
            found |= {str(m) for m in st.aggregate(kind, by="month", scope=scope)["month"].dropna()}
        this = date.today().strftime("%Y-%m")
        ms = sorted(m for m in found if _is_month(m) and m <= this)
        if not ms:
            return []
        return [str(p) for p in pd.period_range(ms[0], ms[-1], freq="M")]

    return _cached("months", scope, (), build)


def month_window(scope: Sequence[str] | None, month_from: str | None, month_to: str | None) -> tuple[str, str]:
    """The month range to show: valid values kept, else the 12 months up to the latest with data."""
    ms = months(scope)
    latest = ms[-1] if ms else date.today().strftime("%Y-%m")
    to = month_to if _is_month(month_to) else latest
    frm = month_from if _is_month(month_from) else add_months(to, -11)
    if frm > to:
        frm, to = to, frm
    return frm, to


def _is_month(m: Any) -> bool:
    return isinstance(m, str) and len(m) == 7 and m[4] == "-" and m[:4].isdigit() and m[5:].isdigit() and 1 <= int(m[5:]) <= 12


def month_options(scope: Sequence[str] | None, month_from: str, month_to: str) -> list[dict[str, str]]:
    """Dropdown options: the data months plus the chosen ones, labelled 2024年3月."""
    ms = sorted(set(months(scope)) | {month_from, month_to})
    return [{"label": fmt_month(m), "value": m} for m in reversed(ms)]


def layer_options() -> list[dict[str, str]]:
    """The layer switcher, straight from the registry (grouped by kind)."""
    return registry.options()


def indicator(key: str | None) -> str:
    """A valid layer key (unknown or empty -> the default layer)."""
    return key if key in registry.LAYERS else registry.DEFAULT


# ---- the citywide overview ---------------------------------------------------------------------


def _filters(month_from: str | None, month_to: str | None, township: str | None = None) -> Filters:
    return Filters(month_from=month_from, month_to=month_to, township=township)


def geometry(scope: Sequence[str] | None) -> dict:
    """Simplified township GeoJSON for the map (sent to the browser once per page)."""
    s = settings()
    return _cached("geojson", scope, (s.basemap,), lambda: mapfig.township_geojson(townships(scope), s.basemap))


def map_frame(scope: Sequence[str] | None, focus: str | None = None) -> dict:
    """The parts of a map figure that do not change with indicator or months: layout and labels (cached)."""
    return _cached("map_frame", scope, (focus,), lambda: _map_frame(scope, focus))


def _map_frame(scope: Sequence[str] | None, focus: str | None) -> dict:
    s = settings()
    t = townships(scope)
    layout = mapfig.map_layout(t, s, focus=focus, is_demo=boundaries_are_demo(scope))
    area = t[t["code"] == focus] if focus is not None and (t["code"] == focus).any() else t
    if len(area):
        x0, y0, x1, y1 = (float(v) for v in area.total_bounds)
        lon, lat = mapfig.display_lonlat([x0, x1], [y0, y1], s.basemap)
        bounds = [float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])]
        layout["meta"] = {"fit": bounds}  # app.js refits the zoom to the map's real size in the browser
        layout["map"] = {**layout["map"], **fit_view(bounds, MAP_PX[0], MAP_PX[1])}
    return {"layout": layout, "labels": mapfig.label_trace(t, s.basemap)}


MAP_PX = (1200, 620)  # the overview map on a 1920x1080 screen


def fit_view(bounds: Sequence[float], width: int, height: int, pad: float = 1.1) -> dict:
    """Centre and zoom that show lon/lat `bounds` in a width x height px MapLibre map (512 px world at zoom 0)."""
    x0, y0, x1, y1 = bounds

    def merc(v: float) -> float:
        return math.degrees(math.log(math.tan(math.pi / 4 + math.radians(v) / 2)))

    span_x, span_y = max(x1 - x0, 1e-3) * pad, max(merc(y1) - merc(y0), 1e-3) * pad
    zoom = min(math.log2(width * 360 / (512 * span_x)), math.log2(height * 360 / (512 * span_y)), 16.0)
    clat = math.degrees(2 * math.atan(math.exp(math.radians((merc(y0) + merc(y1)) / 2)))) - 90
    return {"center": {"lon": (x0 + x1) / 2, "lat": clat}, "zoom": round(zoom, 2)}


def overview(scope: Sequence[str] | None, key: str, month_from: str, month_to: str,
             township: str | None = None) -> dict:
    """Everything the overview (or a township map) shows for one indicator and month range.

    Returns the head (`overview_head`) with `points` {projects, cases, incidents: scattermap traces} and
    `table` (records). Pages load less: the head alone for an indicator switch (`overview_points` for the
    point sets whose digest changed), `overview_map` for a first view, `overview_table` when the rows are shown.
    """
    key = indicator(key)
    return _cached("overview_full", scope, (key, month_from, month_to, township),
                   lambda: {**overview_map(scope, key, month_from, month_to, township),
                            "table": overview_table(scope, key, month_from, month_to, township)})


def overview_map(scope: Sequence[str] | None, key: str, month_from: str, month_to: str,
                 township: str | None = None) -> dict:
    """The head with all three point sets (`points`): what a first map figure needs, without the table."""
    key = indicator(key)

    def build() -> dict:
        head = overview_head(scope, key, month_from, month_to, township)
        return {**head, "points": overview_points(head, POINT_ORDER)}

    return _cached("overview_map", scope, (key, month_from, month_to, township), build)


POINT_ORDER = ("projects", "cases", "incidents")


def view(name: str, scope: Sequence[str] | None, args: tuple, build, fn, call: tuple) -> Any:
    """`cached(name, scope, args, build)` for a view that needs the rows: in a serving worker, a miss is built by the
    warm process, which holds them, as `fn(*call)` (fn: a `remote.allowed` function; dashboard/remote.py)."""
    return _cached(name, scope, args, remote.guard(name, scope, args, build, fn, call))


@remote.allowed
def overview_head(scope: Sequence[str] | None, key: str, month_from: str, month_to: str,
                  township: str | None = None) -> dict:
    """What an indicator switch needs: small, one per indicator and window (shared cache).

    {key, title, unit, higher_is_better, kind, choropleth (trace keys without geometry), extra (the
    layer's own trace), keys (a digest of the choropleth, the extra trace and each point set: a page
    re-sends a part only when its digest changed), bars (records), legend, point_legend, notes, kpis
    (records), columns, table_rows, window (scope, months, township) and point_layer (the layer whose
    project points it shows, None for the shared ones)}. The point sets and the table are cached apart
    (`overview_points`, `overview_table`): cases and incidents are the same for every indicator of a
    window, project points for every non-coverage indicator, so a switch loads none of them.
    """
    key = indicator(key)
    args = (key, month_from, month_to, township)
    return view("overview", scope, args, lambda: _build_overview(scope, *args)[0], overview_head, (scope, *args))


@remote.allowed
def overview_table(scope: Sequence[str] | None, key: str, month_from: str, month_to: str,
                   township: str | None = None) -> list[dict]:
    """The indicator's detail rows (records with a `link`), for the grid and the xlsx export."""
    key = indicator(key)
    args = (key, month_from, month_to, township)
    build = lambda: _build_overview(scope, *args, table_now=True)[1]  # noqa: E731
    cols, data = view("overview_table", scope, args, build, overview_table, (scope, *args))
    return [dict(zip(cols, row, strict=True)) for row in zip(*data, strict=True)]


def overview_points(head: dict, names: Sequence[str]) -> dict[str, dict]:
    """The point-set traces `names` of a view (`overview_head`), each from its own cache entry."""
    scope, month_from, month_to, township = head["window"]
    return {n: _point_set(scope, n, month_from, month_to, township, head["point_layer"] if n == "projects" else None)[1]
            for n in names}


@remote.allowed
def _point_set(scope: Sequence[str] | None, name: str, month_from: str, month_to: str, township: str | None,
               layer: str | None = None) -> tuple[str, dict]:
    """(digest, trace) of one point set for a window; `layer` = a coverage layer whose own project points these are."""
    def build() -> tuple[str, dict]:
        if layer is not None:  # made with the layer's view (its points come out of layer.build)
            return _build_overview(scope, layer, month_from, month_to, township)[2]
        data = window_data(scope, month_to, township)
        trace = _point_trace(name, data, _filters(month_from, month_to, township))
        return _digest(trace), trace

    return view("points", scope, (name, layer, month_from, month_to, township), build, _point_set,
                (scope, name, month_from, month_to, township, layer))


def _build_overview(scope: Sequence[str] | None, key: str, month_from: str, month_to: str, township: str | None,
                    table_now: bool = False) -> tuple[dict, tuple[list[str], list[list]] | None, tuple[str, dict] | None]:
    """One indicator's view: (head, table by column if `table_now`, the layer's own project points or None). Its other
    parts go into the cache (own points now, the table after the reply: `put_later`): one layer.build makes them all."""
    layer = registry.get(key)
    data = window_data(scope, month_to, township)
    f = _filters(month_from, month_to, township)
    res = layer.build(data, f)
    choro = dict(res.traces[0]) if res.traces else {}
    choro.pop("geojson", None)
    colors = _class_colors(choro)
    by = res.by_township.copy()
    by["name"] = by.get("name", by["code"].map(township_names(scope)))
    by["color"] = [colors.get(c, NEUTRAL) for c in by["code"]]
    n_rows, columns = res.table_shape()
    extra = _extra_trace(res, layer.kind)
    point_layer = key if key in coverage.LAYERS else None
    own = None
    if point_layer is not None:
        trace = mapfig.point_trace(res.points, POINT_SETS["projects"], settings().basemap, uid="projects")
        own = (_digest(trace), trace)
        put("points", scope, ("projects", key, month_from, month_to, township), own)
    digests = {n: (own if n == "projects" and own else _point_set(scope, n, month_from, month_to, township))[0]
               for n in POINT_ORDER}
    head = {
        "key": key, "title": res.title, "unit": res.unit, "higher_is_better": bool(layer.higher_is_better),
        "kind": layer.kind, "choropleth": choro, "extra": extra,
        "keys": {"choropleth": _digest(choro), "extra": _digest(extra), **digests},
        "bars": by[["code", "name", "value", "label", "color"]].to_dict("records"),
        "legend": [(i.label, i.color) for i in res.legend if not i.label.startswith("案件：")],
        "point_legend": _point_legend(data, f),
        "notes": list(res.notes),
        "kpis": [_kpi_record(k) for k in kpi.kpis(data, f)],
        "columns": [c for c in columns if c != "链接"], "table_rows": n_rows,
        "window": (scope_key(scope), month_from, month_to, township), "point_layer": point_layer,
    }
    if table_now:
        return head, _table_columns(res.table), own
    put_later("overview_table", scope, (key, month_from, month_to, township), lambda: _table_columns(res.table))
    return head, None, own


EMPTY_TRACE = {"type": "scattermap", "mode": "markers", "lon": [], "lat": [], "uid": "extra", "hoverinfo": "skip",
               "showlegend": False}


def _extra_trace(res: LayerResult, kind: str) -> dict:
    """The layer's own trace beyond the township choropleth (H3 hexes, warning objects), if it has one.

    Coverage and arrears points, and incidents, are drawn by the shared point sets instead.
    """
    if kind in ("coverage", "arrears"):
        return EMPTY_TRACE
    extra = [t for t in res.traces[1:] if t.get("uid") != "incidents"]
    return dict(extra[0]) if extra else EMPTY_TRACE


def _class_colors(choro: dict) -> dict[str, str]:
    """Colour of each township from a stepped choropleth (z = class index + 1, 0 = no data)."""
    scale = choro.get("colorscale") or []
    out = {}
    for code, z in zip(choro.get("locations", []), choro.get("z", []), strict=False):  # z may be shorter: no data
        i = int(z) * 2
        out[code] = scale[i][1] if 0 <= i < len(scale) else NEUTRAL
    return out


def _point_trace(name: str, data: LayerData, f: Filters) -> dict:
    """One shared point set over the choropleth: active projects by gaps, cases, incidents."""
    basemap = settings().basemap
    if name == "projects":
        pts = _project_points(data, f)
    elif name == "cases":
        pts, _ = arrears.case_points(arrears.case_state(data, f))
    else:
        pts = _cap(incident_layer.LAYER.build(data, f).points)  # newest first: the cap keeps the latest
    return mapfig.point_trace(pts, POINT_SETS[name], basemap, uid=name)


def _cap(points: pd.DataFrame) -> pd.DataFrame:
    """At most settings.max_points_per_layer points (the layers order their points by priority)."""
    limit = settings().max_points_per_layer
    return points.head(limit).reset_index(drop=True) if len(points) > limit else points


def _project_points(data: LayerData, f: Filters) -> pd.DataFrame:
    """Active projects coloured by whether any mechanism is missing (for non-coverage indicators): at most
    settings.max_points_per_layer, those with a gap first (layers/gaps.project_points)."""
    return gaps.project_points(data, f, settings().max_points_per_layer)


def _point_legend(data: LayerData, f: Filters) -> list[tuple[str, str]]:
    from layers.response import GRADE_COLORS, GRADES

    items = [("项目：存在缺失", WARNING["orange"]), ("项目：达标/齐全", OK)]
    items += [(i.label, i.color) for i in arrears.status_legend(arrears.case_state(data, f))]
    items += [(f"突发事件：{g}", GRADE_COLORS[g]) for g in GRADES]
    return items


def _kpi_record(k: kpi.Kpi) -> dict:
    return {"key": k.key, "label": k.title, "value": k.label, "note": k.detail, "compact": k.unit == "%",
            "tone": "warn" if k.warn else "", "layer": k.key if k.key in registry.LAYERS else None}


# ---- township ------------------------------------------------------------------------------------


@remote.allowed
def township_view(scope: Sequence[str] | None, code: str, month_from: str, month_to: str,
                  mask_pii: bool = True) -> dict | None:
    """The township page: name, KPIs, gap worklist, open cases, monthly trend; None if out of scope."""
    names = township_names(scope)
    if code not in names:
        return None

    def build() -> dict:
        data = window_data(scope, month_to, code)
        f = _filters(month_from, month_to, code)
        wl = gaps.worklist(data, f, mask_pii=mask_pii)
        cs = arrears.case_state(data, f)
        open_cases = _with_links(arrears.case_table(cs[cs["open"]], names))
        series = trend.monthly(data, f)
        worklist = wl.assign(since_label=wl["since_label"].astype(object), n_missing=wl["n_missing"].astype(int))
        cols = ["project_code", "name", "missing_zh", "n_missing", "since_label", "contractor", "contact",
                "contact_phone", "status", "details", "link"]
        shown = worklist[cols].head(GRID_ROWS)  # the worklist comes most-missing first
        return {
            "code": code, "name": names[code],
            "kpis": [_kpi_record(k) for k in kpi.kpis(data, f)],
            "worklist": shown.astype(object).where(shown.notna(), None).to_dict("records"),
            "worklist_total": len(worklist),
            "cases": open_cases.head(GRID_ROWS).to_dict("records"), "cases_total": len(open_cases),
            "case_columns": [c for c in open_cases.columns if c != "link"],
            "trend": series.astype(object).where(series.notna(), None).to_dict("records"),
        }

    args = (code, month_from, month_to, mask_pii)
    return view("township", scope, args, build, township_view, (scope, *args))


def worklist_frame(scope: Sequence[str] | None, code: str, month_from: str, month_to: str,
                   mask_pii: bool = True) -> pd.DataFrame | None:
    """The worklist with Chinese headers, for the xlsx export; None if out of scope."""
    if code not in township_names(scope):
        return None
    wl = gaps.worklist(window_data(scope, month_to, code), _filters(month_from, month_to, code), mask_pii=mask_pii)
    return gaps.worklist_table(wl)


from dashboard.datasets import HISTORY_COLUMNS, LEDGER_NAMES, ledger, load_history, rejected  # noqa: E402,F401
from dashboard.records import enterprise_view, project_view, provenance  # noqa: E402,F401
