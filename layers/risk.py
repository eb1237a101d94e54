"""Risk score (八) per employer and project, explainable factor by factor, and the H3 risk heat layer.

Formula (every parameter in settings.rules, project defaults, not from the policy):

  points of a warning      p = P[severity] × w[rule]          P = {red: 30, orange: 15, yellow: 6},
                                                              w = rules.rule_weights (default 1)
  points of a trend        p = T × clip(drop, 0, 1)          T = 8, per indicator of an employer with
                                                              enough history (layers.rules.indicator_trends)
  own points               O(e) = Σ p over e's warnings and trends
  project total            S(p) = O(p) + s × O(contractor of p)            s = rules.risk_share = 0.5
  employer total           S(e) = O(e) + s × Σ O(p) over the projects e contracts
  score                    score = 100 × (1 − exp(−S / K))                  K = rules.risk_scale = 60
  contribution of factor i c_i = score × p_i / S   (factors sum to the score)

Transmitted points are listed as their own factors ("施工单位：…", "所承建项目：…").
Example: a project with one red warning (30) and one yellow (6), contractor clean:
S = 36, score = 100 × (1 − e^−0.6) = 45.1; contributions 37.6 and 7.5.

This module is the public face: the formula, `factors`, `score`, `universe`, the H3 views
(`hex_risk`, `hex_contents`, `hex_geojson`) and the two heat layers. How a window is scored fast lives
in layers.risk_arrays: every entity, contractor and H3 cell derived once per read of the frames, then
integer-coded numpy work per window, every float the same as the former merges on text gave.
Province scale (500k entities, 225k with points): ~0.4 s per window for the scores (the window's warnings aside),
~0.3 s for the heat view (labels of the points, H3 cells); the heat table is made when the grid reads it and the
factor dicts only for `score`'s frame; city well under 100 ms.
"""

from __future__ import annotations

import html
from typing import Any

import h3
import numpy as np
import pandas as pd

from geodata.boundaries import area_km2
from geodata.settings import Rules, get_settings
from layers import mapfig
from layers.base import Filters, LayerData, LayerResult, LazyTable, memo
from layers.credit import escape, month_zh, rules_of
from layers.palettes import amount_classes
from layers.risk_arrays import (
    FACTOR_COLUMNS,
    _active_rows,
    _Catalogue,
    _Entities,
    _entities,
    _Scored,
    _scored,
    _take,
    _trend_factors,
)
from layers.risk_cells import _Cells, _cells
from layers.rules import context, entity_locations, warnings


def factors(data: LayerData, filters: Filters | None = None, rules: Rules | None = None,
            warns: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every point-carrying factor of every entity (before transmission): FACTOR_COLUMNS."""
    r = rules_of(rules)
    ctx = context(data, filters, r)
    w = warnings(data, filters, r) if warns is None else warns
    sev_points = {"red": r.risk_points_red, "orange": r.risk_points_orange, "yellow": r.risk_points_yellow}
    wf = pd.DataFrame({
        "entity_type": w["entity_type"], "entity_id": w["entity_id"], "factor": w["rule"],
        "factor_zh": w["rule_zh"] + "（" + w["severity"].map({"red": "红", "orange": "橙", "yellow": "黄"}) + "）",
        "points": w["severity"].map(sev_points).astype(float) * w["rule"].map(lambda k: r.rule_weights.get(k, 1.0)).astype(float),
        "source": "warning",
    })
    tf = _trend_factors(data, ctx.month, r)
    out = pd.concat([x for x in (wf, tf) if not x.empty],
                    ignore_index=True) if len(wf) + len(tf) else pd.DataFrame(columns=FACTOR_COLUMNS)
    return out[FACTOR_COLUMNS]


def universe(data: LayerData, filters: Filters | None = None, rules: Rules | None = None) -> pd.DataFrame:
    """Entities scored: active projects and every known employer. entity_type, entity_id, name, township_code, contractor."""
    r = rules_of(rules)
    ent = _entities(data)
    rows = _active_rows(ent, context(data, filters, r), r)
    return _take(ent, np.concatenate([rows, ent.n_proj + np.arange(len(ent.employers))]), not len(rows)).reset_index(drop=True)


def score(data: LayerData, filters: Filters | None = None, rules: Rules | None = None, top: int = 3,
          warns: pd.DataFrame | None = None) -> pd.DataFrame:
    """Risk score per entity, highest first.

    Columns: entity_type, entity_id, name, township_code, points, score, top_factors (Chinese
    text), factors (list of dicts factor, factor_zh, points, contribution; all of them, largest first).
    Memoised on `data` when the warnings are not given (both risk layers of a view share it);
    callers must not modify the frame.
    """
    return _score(data, filters, rules_of(rules), top, warns)


def _score(data: LayerData, filters: Filters | None, r: Rules, top: int, warns: pd.DataFrame | None,
           township: str | None = None) -> pd.DataFrame:
    """Scores of every entity, or (township given) of the township's entities only, each as scoring every entity gives."""
    return _scored_memo(data, filters, r, top, warns, township).frame


def _scored_memo(data: LayerData, filters: Filters | None, r: Rules, top: int, warns: pd.DataFrame | None,
                 township: str | None = None) -> _Scored:
    if warns is not None:
        return _scored(data, filters, r, top, warns, township)
    f = filters
    # month_from plays no part: the rules evaluate one month (see layers.rules)
    key = ("risk", None if f is None else (f.month_to, f.as_of, f.township), r.model_dump_json(), top, township)
    return memo(data, key, lambda: _scored(data, filters, r, top, None, township))


# ---- H3 heat --------------------------------------------------------------------------------

def with_cells(scores: pd.DataFrame, data: LayerData, resolution: int) -> pd.DataFrame:
    """Scores with lon, lat and their H3 cell (entities without coordinates are dropped)."""
    loc = entity_locations(data)
    s = scores.merge(loc, on=["entity_type", "entity_id"], how="inner")
    # h3-py v4 has no array API: one C call per point (~1 µs), fine at city scale
    s["cell"] = [h3.latlng_to_cell(la, lo, resolution) for la, lo in zip(s["lat"].to_numpy(), s["lon"].to_numpy(), strict=False)]
    return s


def hex_risk(scores: pd.DataFrame, data: LayerData, resolution: int | None = None, hot: float | None = None) -> pd.DataFrame:
    """One row per H3 cell: risk_sum, n_entities, n_hot, area_km2, density (hot entities per km², smoothed over ring 1)."""
    res = resolution if resolution is not None else get_settings().h3_resolution
    hot_at = hot if hot is not None else get_settings().rules.risk_hot_score
    s = with_cells(scores, data, res)
    cols = ["cell", "risk_sum", "n_entities", "n_hot", "area_km2", "density", "why"]
    if s.empty:
        return pd.DataFrame(columns=cols)
    g = s.assign(is_hot=s["score"] >= hot_at).groupby("cell").agg(
        risk_sum=("score", "sum"), n_entities=("entity_id", "size"), n_hot=("is_hot", "sum"))
    g["area_km2"] = [h3.cell_area(c, "km^2") for c in g.index]
    # density: hot entities per km² averaged over the cell and its 6 neighbours (kernel of radius 1)
    ring = pd.DataFrame([(c, n) for c in g.index for n in h3.grid_disk(c, 1)], columns=["cell", "nb"])
    ring["n_hot"] = ring["cell"].map(g["n_hot"])
    spread = ring.groupby("nb")["n_hot"].sum() / 7.0
    g = g.reindex(g.index.union(spread.index))
    g["n_hot_smooth"] = spread.reindex(g.index).fillna(0.0)
    g[["risk_sum", "n_entities", "n_hot"]] = g[["risk_sum", "n_entities", "n_hot"]].fillna(0)
    g["area_km2"] = [h3.cell_area(c, "km^2") for c in g.index]
    g["density"] = g["n_hot_smooth"] / g["area_km2"]
    g["why"] = _why(s).reindex(g.index).fillna("邻近高风险格")
    return g.rename_axis("cell").reset_index()[cols]


def _why(s: pd.DataFrame) -> pd.Series:
    """Per cell: a short Chinese reason (most frequent factors, top entity)."""
    f = s[["cell", "factors"]].explode("factors").dropna()
    if f.empty:
        return pd.Series("无预警", index=s["cell"].unique())
    f = pd.DataFrame({"cell": f["cell"].to_numpy(), "zh": [x["factor_zh"] for x in f["factors"]],
                      "c": [x["contribution"] for x in f["factors"]]})
    f["zh"] = f["zh"].str.replace(r"（[红橙黄]）$", "", regex=True)
    top = f.groupby(["cell", "zh"])["c"].sum().reset_index().sort_values(["cell", "c"], ascending=[True, False])
    txt = top.groupby("cell").head(3).groupby("cell")["zh"].agg("、".join)
    n = s.groupby("cell").size()
    return ("格内" + n.astype(str) + "个对象；主要原因：" + txt.reindex(n.index).fillna("无预警"))


def hex_contents(scores: pd.DataFrame, data: LayerData, cell: str) -> pd.DataFrame:
    """What is in one hexagon and why it is hot: entities with score and top factors, highest first."""
    res = h3.get_resolution(cell)
    s = with_cells(scores, data, res)
    s = s[s["cell"] == cell].sort_values("score", ascending=False)
    return pd.DataFrame({"对象": s["entity_type"].map({"project": "项目", "employer": "单位"}), "编号": s["entity_id"],
                         "名称": s["name"], "风险分": s["score"].round(1), "主要因素": s["top_factors"],
                         "链接": np.where(s["entity_type"] == "project", "/project/", "/enterprise/") + s["entity_id"]})


def hex_geojson(cells: pd.Series) -> dict:
    """GeoJSON FeatureCollection of the H3 cells (feature id = cell), lon/lat order."""
    feats = []
    for c in cells:
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(c)]
        geom = {"type": "Polygon", "coordinates": [ring + ring[:1]]}
        feats.append({"type": "Feature", "id": c, "properties": {"cell": c}, "geometry": geom})
    return {"type": "FeatureCollection", "features": feats}


# ---- the layers -----------------------------------------------------------------------------

HEAT = ("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704")  # ColorBrewer Oranges (sequential)


def _shared_view(data: LayerData, filters: Filters) -> tuple[_Scored, pd.DataFrame, pd.DataFrame, LazyTable]:
    """What both heat views show: scores in the view, H3 cells, entity points, table (memoised on `data`; do not modify)."""
    f = filters
    st = get_settings()
    key = ("risk.view", f.month_to, f.as_of, f.township, st.rules.model_dump_json(), st.h3_resolution)
    return memo(data, key, lambda: _view(data, filters))


def _view(data: LayerData, filters: Filters) -> tuple[_Scored, pd.DataFrame, pd.DataFrame, LazyTable]:
    # a township shows only its entities: they are scored with what they are linked to (see _scored)
    sc = _scored_memo(data, filters, rules_of(None), 3, None, township=filters.township or None)
    st = get_settings()
    hot_at = st.rules.risk_hot_score
    ent = _entities(data)
    cx = _cells(data, ent, st.h3_resolution)
    hx = _hex_view(sc, cx, hot_at)
    # the table is sc.frame's rows with points (score > 0); the points are those of them with coordinates
    shown = sc.score > 0
    rows = np.flatnonzero(shown)
    codes, texts = sc.top_codes(rows)  # top_factors of the rows shown: texts[codes]
    here = cx.cell[sc.ent[rows]] >= 0
    # = sc.frame.merge(entity_locations(data)) (the rows with coordinates, renumbered), then the rows with score > 0
    at = np.flatnonzero(cx.cell[sc.ent] >= 0)
    on = sc.ent[rows[here]]
    pts = sc.rows(rows[here], pd.RangeIndex(len(at))[sc.score[at] > 0], factors=False, top_text=texts[codes[here]])
    pts = pts.assign(lon=cx.lon[on], lat=cx.lat[on])
    pts = pts.assign(label=_labels(ent, on, pts["score"], codes[here], texts, sc.cat),
                     color=np.where(pts["score"] >= hot_at, "#d62728", "#ff7f0e"), size=8,
                     link=_entity_links(ent, on, pts["entity_id"]))

    def table() -> pd.DataFrame:
        s = sc.rows(rows, pd.RangeIndex(len(sc.ent))[shown], factors=False, top_text=texts[codes])
        is_p = sc.ent[shown] < ent.n_proj
        return pd.DataFrame({"对象": _kinds_zh(is_p, s["entity_type"]), "编号": s["entity_id"],
                             "名称": s["name"], "乡镇代码": s["township_code"], "风险分": s["score"].round(1),
                             "主要因素": s["top_factors"], "链接": _entity_links(ent, sc.ent[shown], s["entity_id"])})

    return sc, hx, pts, LazyTable(table, len(rows), TABLE_COLUMNS)


TABLE_COLUMNS = ["对象", "编号", "名称", "乡镇代码", "风险分", "主要因素", "链接"]


def _labels(ent: _Entities, on: np.ndarray, score_: pd.Series, codes: np.ndarray, texts: np.ndarray,
            cat: _Catalogue) -> pd.Series:
    """= "<b>" + escape(name or id) + "</b><br>风险分" + score (whole) + "<br>" + escape(top_factors) of the entities
    `on` with their top_factors texts[codes]; the part after the name made once per (score, text)."""
    whole = score_.round(0).astype(int).to_numpy(np.int64)
    k = pd.factorize((whole - whole.min(initial=0)) * (len(texts) + 1) + codes)[0]
    top = _escaped_top(pd.Series(texts, dtype=object), cat).to_numpy(dtype=object)
    first = np.unique(k, return_index=True)[1]  # an entity of each distinct (score, text)
    tail = np.array(["</b><br>风险分" + str(w) + "<br>" + t
                     for w, t in zip(whole[first].tolist(), top[codes[first]].tolist(), strict=True)], dtype=object)
    label = _bold_names(ent)[on] + tail[k]
    return pd.Series(label, index=score_.index, dtype=pd.StringDtype("python", na_value=np.nan))


KINDS_ZH = {"project": "项目", "employer": "单位"}


def _entity_links(ent: _Entities, which: np.ndarray, ids: pd.Series) -> pd.Series:
    """= _links(which < ent.n_proj, ids) for `ids` the entity ids of the entities `which`: every entity's link made
    once per read of the frames (per dtype of the ids) and taken."""
    if "id_ok" not in ent.memo:
        ent.memo["id_ok"] = ent.frame["entity_id"].notna().to_numpy(bool)
    ok = ent.memo["id_ok"]
    if not len(ids) or not isinstance(ids.dtype, pd.StringDtype) or not ok[which].all():  # = ids.isna().any()
        return _links(which < ent.n_proj, ids)
    key = ("links", ids.dtype)
    if key not in ent.memo:
        every = ent.frame["entity_id"]
        text = np.full(len(every), None, dtype=object)
        text[ok] = _links(np.arange(len(every))[ok] < ent.n_proj, every[ok].astype(ids.dtype)).to_numpy(dtype=object)
        ent.memo[key] = pd.Series(text, dtype=ids.dtype)
    return pd.Series(ent.memo[key].array.take(which), index=ids.index, dtype=ids.dtype)


def _links(is_proj: np.ndarray, ids: pd.Series) -> pd.Series:
    """= np.where(is_proj, "/project/", "/enterprise/") + ids, by object column for a text column without gaps."""
    prefix = np.where(is_proj, "/project/", "/enterprise/")
    if not len(ids) or not isinstance(ids.dtype, pd.StringDtype) or ids.isna().any():
        return prefix + ids
    return pd.Series(prefix.astype(object) + ids.to_numpy(dtype=object), index=ids.index, dtype=ids.dtype)


def _kinds_zh(is_proj: np.ndarray, kinds: pd.Series) -> pd.Series:
    """= kinds.map(KINDS_ZH) for kinds that are "project" where is_proj, else "employer"."""
    if not len(kinds):
        return kinds.map(KINDS_ZH)
    dtype = kinds.iloc[:1].map(KINDS_ZH).dtype
    return pd.Series(np.where(is_proj, "项目", "单位").astype(object), index=kinds.index, dtype=dtype)


def _escaped(s: pd.Series) -> np.ndarray:
    """= credit.escape(s).to_numpy(): html.escape only where a text has one of & < > " '."""
    t = s.astype("string").fillna("")
    out = t.to_numpy(dtype=object)
    special = np.flatnonzero(t.str.contains("[&<>\"']", regex=True).to_numpy(bool))
    out[special] = [html.escape(x) for x in out[special].tolist()]
    return out


def _bold_names(ent: _Entities) -> np.ndarray:
    """Each entity's name (else its id), escaped, after "<b>": the start of its label (once per read of the frames)."""
    if "bold_names" not in ent.memo:
        ent.memo["bold_names"] = np.array(["<b>"], dtype=object) + _escaped(ent.frame["name"].fillna(ent.frame["entity_id"]))
    return ent.memo["bold_names"]


def _escaped_top(top: pd.Series, cat: _Catalogue) -> pd.Series:
    """escape(top) for texts made of the catalogue's factor_zh and digits: unchanged unless a factor_zh has a special sign."""
    if any(ch in z for z in cat.column(1)[:-1] for ch in "&<>\"'"):
        return escape(top)
    return pd.Series(top.to_numpy(dtype=object), index=top.index, dtype=object)


def _hex_view(sc: _Scored, cx: _Cells, hot: float) -> pd.DataFrame:
    """= hex_risk(sc.frame, data) from the window's arrays and the cells of the read."""
    cols = ["cell", "risk_sum", "n_entities", "n_hot", "area_km2", "density", "why"]
    cr = cx.cell[sc.ent]
    located = np.flatnonzero(cr >= 0)
    if not len(located):
        return pd.DataFrame(columns=cols)
    sc_score = sc.score[located]
    # = np.unique(cr[located], return_inverse=True): the cells with entities (in text order), by counting
    counts = np.bincount(cr[located], minlength=len(cx.at))
    occ = np.flatnonzero(counts)
    slot = np.zeros(len(counts), np.int64)
    slot[occ] = np.arange(len(occ))
    inv = slot[cr[located]]
    n_ext = len(cx.ext)
    risk_sum, n_entities, n_hot = np.zeros(n_ext), np.zeros(n_ext), np.zeros(n_ext)
    risk_sum[cx.at[occ]] = pd.Series(sc_score).groupby(inv).sum().to_numpy(float)
    n_entities[cx.at[occ]] = np.bincount(inv)
    hot_n = np.bincount(inv, weights=sc_score >= hot)
    n_hot[cx.at[occ]] = hot_n
    # density: hot entities per km² averaged over the cell and its 6 neighbours (kernel of radius 1)
    m = cx.ring_start[occ + 1] - cx.ring_start[occ]
    nb = cx.ring_nb[np.repeat(cx.ring_start[occ] - (np.cumsum(m) - m), m) + np.arange(int(m.sum()))]
    smooth = np.bincount(nb, weights=np.repeat(hot_n, m), minlength=n_ext) / 7.0
    out = np.union1d(cx.at[occ], nb)
    why = np.full(n_ext, "邻近高风险格", dtype=object)
    why[cx.at[occ]] = _why_view(sc, located, inv, np.bincount(inv))
    area = cx.area[out]
    return pd.DataFrame({"cell": cx.ext[out].tolist(), "risk_sum": risk_sum[out], "n_entities": n_entities[out],
                         "n_hot": n_hot[out], "area_km2": area, "density": smooth[out] / area, "why": why[out].tolist()})[cols]


def _why_view(sc: _Scored, located: np.ndarray, inv: np.ndarray, n: np.ndarray) -> np.ndarray:
    """= _why: per occupied cell (in text order) its entity count and its three largest factors summed over the cell."""
    m = sc.hi[located] - sc.lo[located]
    rows = np.repeat(sc.lo[located] - (np.cumsum(m) - m), m) + np.arange(int(m.sum()))
    if not len(rows):
        return np.full(len(n), "无预警", dtype=object)
    stripped = pd.Series(sc.cat.column(1)[:-1], dtype=object).str.replace(r"（[红橙黄]）$", "", regex=True)
    zk, zu = pd.factorize(stripped)
    order = np.argsort(np.asarray(zu, dtype=object), kind="stable")
    zrank = np.empty(len(zu), np.int64)
    zrank[order] = np.arange(len(zu))
    nz = max(len(zu), 1)
    g = pd.Series(sc.f_contrib[rows]).groupby(np.repeat(inv, m) * nz + zrank[zk[sc.f_cat[rows]]]).sum()
    key, c = g.index.to_numpy(np.int64), g.to_numpy(float)
    o = np.lexsort((-c, key // nz))
    cell, z = (key // nz)[o], (key % nz)[o]
    first = np.searchsorted(cell, cell, "left")
    keep = np.arange(len(cell)) - first < 3
    zs = np.asarray(zu, dtype=object)[order]  # by rank
    txt = np.full(len(n), "无预警", dtype=object)
    cells, names = cell[keep].tolist(), zs[z[keep]].tolist()
    for i, (at, name) in enumerate(zip(cells, names, strict=True)):
        txt[at] = name if i == 0 or cells[i - 1] != at else txt[at] + "、" + name
    return np.array([f"格内{k}个对象；主要原因：{t}" for k, t in zip(n.tolist(), txt.tolist(), strict=True)], dtype=object)


class RiskHeatLayer:
    """风险热力: H3 cells summing risk scores ("sum") or hot entities per km² ("density"); city scale."""

    kind = "risk"
    higher_is_better = False

    def __init__(self, view: str = "sum") -> None:
        self.view = view
        self.key = "risk_heat" if view == "sum" else "risk_density"
        self.title = "欠薪风险热力（合计）" if view == "sum" else "欠薪风险密度"

    def build(self, data: LayerData, filters: Filters) -> LayerResult:
        sc, hx, pts, table = _shared_view(data, filters)
        hot_at = get_settings().rules.risk_hot_score
        if self.view == "sum" and not hx.empty:
            hx = hx[hx["n_entities"] > 0]  # neighbours only matter for the smoothed density
        by = self._by_township(sc, data, hot_at)
        classes = amount_classes(by["value"], self.unit_zh)
        traces = [mapfig.choropleth_trace(by, classes, self.title), self._hex_trace(hx)]
        ctx_month = context(data, filters).month
        return LayerResult(key=self.key, title=self.title, unit=self.unit_zh, by_township=by, points=pts, table=table,
                           legend=classes.legend(), traces=traces,
                           notes=[f"评估月份：{month_zh(ctx_month)}；H3分辨率{get_settings().h3_resolution}（约{_hex_km2():.1f}平方公里/格）",
                                  "风险分=100×(1−e^(−点数/K))，点数来自预警与指标趋势，见各对象主要因素"])

    @property
    def unit_zh(self) -> str:
        return "分" if self.view == "sum" else "个/平方公里"

    def _by_township(self, sc: _Scored, data: LayerData, hot_at: float) -> pd.DataFrame:
        t = data.townships
        by = pd.DataFrame({"code": t["code"].to_numpy() if not t.empty else []})
        ent = _entities(data)
        town, score_ = ent.town[sc.ent], sc.score
        m = town >= 0
        if self.view == "sum":
            total = pd.Series(score_[m]).groupby(town[m]).sum()  # = s.groupby("township_code")["score"].sum()
            by["value"] = by["code"].map(pd.Series(total.to_numpy(), index=ent.towns[total.index])).fillna(0.0)
            by["label"] = "风险合计" + by["value"].round(0).astype(int).astype(str) + "分"
            return by
        area = t["area_km2"].to_numpy(float) if "area_km2" in t.columns else area_km2(t) if not t.empty else np.array([])
        n = np.bincount(town[m & (score_ >= hot_at)], minlength=len(ent.towns))
        hot = by["code"].map(pd.Series(n[n > 0], index=ent.towns[np.flatnonzero(n > 0)])).fillna(0)
        by["value"] = hot / np.where(area > 0, area, np.nan)
        per_km2 = by["value"].round(3).astype("string").fillna("—")
        by["label"] = "高风险对象" + hot.astype(int).astype(str) + "个，每平方公里" + per_km2 + "个"
        return by

    def _hex_trace(self, hx: pd.DataFrame) -> dict:
        """H3 cells as their own choropleth (geometry inside); customdata = cell id for hex_contents."""
        value = "risk_sum" if self.view == "sum" else "density"
        z = hx[value].round(3).tolist() if len(hx) else []
        return {
            "type": "choroplethmap", "uid": "hexes", "geojson": hex_geojson(hx["cell"] if len(hx) else []),
            "locations": hx["cell"].tolist() if len(hx) else [], "featureidkey": "id", "z": z, "zmin": 0,
            "zmax": max(z) if z and max(z) > 0 else 1, "colorscale": [[i / 4, c] for i, c in enumerate(HEAT)], "showscale": False,
            "marker": {"opacity": 0.7, "line": {"width": 0.3, "color": "#7f2704"}},
            "customdata": hx["cell"].tolist() if len(hx) else [],
            "text": escape(hx["why"]).tolist() if len(hx) else [], "name": "H3风险格",
            "hovertemplate": "%{text}<br>" + ("风险合计" if self.view == "sum" else "密度") + " %{z:.2f}" + self.unit_zh
                             + "<extra></extra>",
        }

    def export_folium(self, result: LayerResult, fmap: Any) -> None:
        import folium

        from layers.folium_export import add_layer

        add_layer(result, fmap)
        hexes = [t for t in result.traces if t.get("uid") == "hexes"]
        if not hexes or not hexes[0]["locations"]:
            return
        t = hexes[0]
        zmax = t["zmax"] or 1.0
        feats = [{**f, "properties": {"popup": f"{why}；{z:.2f}{result.unit}", "c": HEAT[min(4, int(4 * z / zmax))]}}
                 for f, z, why in zip(t["geojson"]["features"], t["z"], t["text"], strict=False)]  # why is escaped in build
        folium.GeoJson({"type": "FeatureCollection", "features": feats}, name=f"{result.title}·H3",
                       style_function=lambda f: {"fillColor": f["properties"]["c"], "color": f["properties"]["c"], "weight": 0.5,
                                                 "fillOpacity": 0.6},
                       popup=folium.GeoJsonPopup(fields=["popup"], labels=False)).add_to(fmap)


def _hex_km2() -> float:
    return h3.average_hexagon_area(get_settings().h3_resolution, "km^2")


LAYER = RiskHeatLayer("sum")
DENSITY_LAYER = RiskHeatLayer("density")
