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
"""

from __future__ import annotations

from typing import Any

import h3
import numpy as np
import pandas as pd

from geodata.boundaries import area_km2
from geodata.settings import Rules, get_settings
from layers import mapfig
from layers.base import Filters, LayerData, LayerResult, derived, memo
from layers.credit import _enterprise_info, escape, month_zh, rules_of
from layers.palettes import amount_classes
from layers.rules import INDICATOR_ZH, context, entity_locations, indicator_codes, indicator_trends, warnings

FACTOR_COLUMNS = ["entity_type", "entity_id", "factor", "factor_zh", "points", "source"]


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


def _trend_factors(data: LayerData, month: str, r: Rules) -> pd.DataFrame:
    """The trend factors of every employer (once per read of the indicators, month and rules; do not modify)."""
    def build() -> pd.DataFrame:
        tr = indicator_trends(data, month, r)
        tr = tr[tr["drop"] > 0]
        return pd.DataFrame({
            "entity_type": "employer", "entity_id": tr["credit_code"], "factor": "trend_" + tr["field"],
            "factor_zh": tr["field"].map(lambda f: INDICATOR_ZH.get(f, (f, ""))[0]) + "下降趋势"
            + (tr["drop"].clip(0, 1) * 100).round(0).astype(int).astype(str) + "%",
            "points": r.risk_trend_points * tr["drop"].clip(0, 1), "source": "trend",
        })

    return derived(data, ("indicators",), ("risk.trend_factors", month, r.model_dump_json()), build)


def universe(data: LayerData, filters: Filters | None = None, rules: Rules | None = None) -> pd.DataFrame:
    """Entities scored: active projects and every known employer. entity_type, entity_id, name, township_code, contractor."""
    ctx = context(data, filters, rules)
    p = ctx.projects
    proj = pd.DataFrame({"entity_type": "project", "entity_id": p["project_code"], "name": p["name"],
                         "township_code": p["township_code"], "contractor": p["contractor_credit_code"]})
    info = _enterprise_info(data)
    codes = set(info.index)
    if data.indicators is not None and not data.indicators.empty:
        codes |= set(indicator_codes(data))
    codes = sorted(c for c in codes if isinstance(c, str) and c)
    emp = pd.DataFrame({"entity_type": "employer", "entity_id": codes})
    emp["name"] = emp["entity_id"].map(info["name"]) if not info.empty else pd.NA
    emp["township_code"] = emp["entity_id"].map(info["township_code"]) if not info.empty else pd.NA
    emp["contractor"] = pd.NA
    out = pd.concat([proj, emp], ignore_index=True)
    return out.drop_duplicates(["entity_type", "entity_id"]).reset_index(drop=True)


def _universe(data: LayerData, filters: Filters | None, r: Rules) -> pd.DataFrame:
    """`universe` once per read of the frames, month, as-of date and rules (it never reads the township; do not modify)."""
    ctx = context(data, filters, r)
    key = ("risk.universe", ctx.month, str(ctx.as_of), r.model_dump_json())
    return derived(data, ("projects", "enterprises", "indicators"), key, lambda: universe(data, filters, r))


def _linked(uni: pd.DataFrame, township: str) -> pd.DataFrame:
    """The part of `uni` a township's scores depend on: its entities, the contractors of its projects and the
    projects its employers contract (transmission crosses townships); the rest only makes other entities' scores."""
    here = (uni["township_code"] == township).to_numpy(bool, na_value=False)  # as a mask: missing = False
    proj = (uni["entity_type"] == "project").to_numpy()
    employers = uni.loc[here & ~proj, "entity_id"]
    contractors = uni.loc[here & proj, "contractor"].dropna()
    keep = here | (proj & uni["contractor"].isin(employers).to_numpy()) | (~proj & uni["entity_id"].isin(contractors).to_numpy())
    return uni[keep]


def transmitted(uni: pd.DataFrame, own: pd.DataFrame, share: float) -> pd.DataFrame:
    """Factors passed between projects and their contractors (see module docstring)."""
    links = uni.loc[(uni["entity_type"] == "project") & uni["contractor"].notna(), ["entity_id", "contractor"]]
    links = links.rename(columns={"entity_id": "project"})
    e_own = own[own["entity_type"] == "employer"]
    down = links.merge(e_own, left_on="contractor", right_on="entity_id")
    down = pd.DataFrame({"entity_type": "project", "entity_id": down["project"], "factor": "contractor_" + down["factor"],
                         "factor_zh": "施工单位：" + down["factor_zh"], "points": share * down["points"], "source": "contractor"})
    p_own = own[own["entity_type"] == "project"]
    up = links.merge(p_own, left_on="project", right_on="entity_id")
    up = up.groupby(["contractor", "factor"], as_index=False).agg(
        points=("points", "sum"), n=("project", "nunique"), zh=("factor_zh", "first"))
    up["zh"] = up["zh"].str.replace(r"（[红橙黄]）$", "", regex=True)  # severities may differ between projects
    up = pd.DataFrame({"entity_type": "employer", "entity_id": up["contractor"], "factor": "projects_" + up["factor"],
                       "factor_zh": "所承建项目：" + up["zh"] + "（" + up["n"].astype(str) + "个项目）",
                       "points": share * up["points"], "source": "projects"})
    parts = [x for x in (down, up) if not x.empty]
    return pd.concat(parts, ignore_index=True)[FACTOR_COLUMNS] if parts else pd.DataFrame(columns=FACTOR_COLUMNS)


def score(data: LayerData, filters: Filters | None = None, rules: Rules | None = None, top: int = 3,
          warns: pd.DataFrame | None = None) -> pd.DataFrame:
    """Risk score per entity, highest first.

    Columns: entity_type, entity_id, name, township_code, points, score, top_factors (Chinese
    text), factors (list of dicts factor, factor_zh, points, contribution; all of them, largest first).
    Memoised on `data` when the warnings are not given (both risk layers of a view share it);
    callers must not modify the frame.
    """
    r = rules_of(rules)
    if warns is not None:
        return _score(data, filters, r, top, warns)
    memo = data.__dict__.setdefault("_wagemap_memo", {})
    f = filters
    # month_from plays no part: the rules evaluate one month (see layers.rules)
    key = ("risk", None if f is None else (f.month_to, f.as_of, f.township), r.model_dump_json(), top)
    if key not in memo:
        memo[key] = _score(data, filters, r, top, None)
    return memo[key]


def _score(data: LayerData, filters: Filters | None, r: Rules, top: int, warns: pd.DataFrame | None,
           township: str | None = None) -> pd.DataFrame:
    """Scores of every entity, or (township given) of the township's entities only, each as scoring every entity gives."""
    uni = _universe(data, filters, r)
    if township is not None:
        uni = _linked(uni, township)
    own = factors(data, filters, r, warns)
    own = own.merge(uni[["entity_type", "entity_id"]], on=["entity_type", "entity_id"], how="inner")
    allf = pd.concat([x for x in (own, transmitted(uni, own, r.risk_share)) if not x.empty] or [own], ignore_index=True)
    allf = allf.groupby(["entity_type", "entity_id", "factor", "factor_zh", "source"], as_index=False)["points"].sum()
    total = allf.groupby(["entity_type", "entity_id"])["points"].sum().rename("points")
    out = uni.drop(columns="contractor").join(total, on=["entity_type", "entity_id"])
    out["points"] = pd.to_numeric(out["points"], errors="coerce").fillna(0.0).astype(float)
    out["score"] = 100 * (1 - np.exp(-out["points"] / r.risk_scale))
    if township is not None:  # the linked entities only pass points on: the factor lists of the township's own
        out = out[(out["township_code"] == township).to_numpy(bool, na_value=False)]
        shown = pd.MultiIndex.from_frame(out[["entity_type", "entity_id"]])
        allf = allf[pd.MultiIndex.from_frame(allf[["entity_type", "entity_id"]]).isin(shown)]
    allf = allf.join(out.set_index(["entity_type", "entity_id"])[["points", "score"]].rename(columns={"points": "S"}),
                     on=["entity_type", "entity_id"])
    allf["contribution"] = np.where(allf["S"] > 0, allf["score"] * allf["points"] / allf["S"], 0.0)
    allf = allf.sort_values(["entity_type", "entity_id", "contribution"], ascending=[True, True, False])
    cols = ["factor", "factor_zh", "points", "contribution"]  # = to_dict("records"), by column (~3x faster at province)
    rows = [dict(zip(cols, v, strict=True)) for v in zip(*(allf[c].tolist() for c in cols), strict=True)]
    keys = list(zip(allf["entity_type"], allf["entity_id"], strict=False))
    grouped: dict[tuple, list] = {}
    for k, row in zip(keys, rows, strict=False):
        grouped.setdefault(k, []).append(row)
    out_keys = list(zip(out["entity_type"], out["entity_id"], strict=False))
    out["factors"] = [grouped.get(k, []) for k in out_keys]
    out["top_factors"] = [
        "；".join(f"{f['factor_zh']} +{f['contribution']:.1f}" for f in fs[:top]) if fs else "无预警" for fs in out["factors"]
    ]
    return out.sort_values(["score", "entity_type", "entity_id"], ascending=[False, True, True]).reset_index(drop=True)


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


def _shared_view(data: LayerData, filters: Filters) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What both heat views show: scores in the view, H3 cells, entity points, table (memoised on `data`; do not modify)."""
    f = filters
    st = get_settings()
    key = ("risk.view", f.month_to, f.as_of, f.township, st.rules.model_dump_json(), st.h3_resolution)
    return memo(data, key, lambda: _view(data, filters))


def _view(data: LayerData, filters: Filters) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    if filters.township:  # only the township's entities are shown: score them and what they are linked to
        s = _score(data, filters, rules_of(None), 3, None, township=filters.township)
        s = s[s["township_code"] == filters.township]
    else:
        s = score(data, filters)
    s_all = s
    hot_at = get_settings().rules.risk_hot_score
    hx = hex_risk(s, data)
    pts = s.merge(entity_locations(data), on=["entity_type", "entity_id"])
    pts = pts[pts["score"] > 0]
    label = ("<b>" + escape(pts["name"].fillna(pts["entity_id"])) + "</b><br>风险分"
             + pts["score"].round(0).astype(int).astype(str) + "<br>" + escape(pts["top_factors"]))
    pts = pts.assign(label=label, color=np.where(pts["score"] >= hot_at, "#d62728", "#ff7f0e"), size=8,
                     link=np.where(pts["entity_type"] == "project", "/project/", "/enterprise/") + pts["entity_id"])
    s = s[s["score"] > 0]  # the table lists only entities with a factor
    table = pd.DataFrame({"对象": s["entity_type"].map({"project": "项目", "employer": "单位"}), "编号": s["entity_id"],
                          "名称": s["name"], "乡镇代码": s["township_code"], "风险分": s["score"].round(1),
                          "主要因素": s["top_factors"],
                          "链接": np.where(s["entity_type"] == "project", "/project/", "/enterprise/") + s["entity_id"]})
    return s_all, hx, pts, table


class RiskHeatLayer:
    """风险热力: H3 cells summing risk scores ("sum") or hot entities per km² ("density"); city scale."""

    kind = "risk"
    higher_is_better = False

    def __init__(self, view: str = "sum") -> None:
        self.view = view
        self.key = "risk_heat" if view == "sum" else "risk_density"
        self.title = "欠薪风险热力（合计）" if view == "sum" else "欠薪风险密度"

    def build(self, data: LayerData, filters: Filters) -> LayerResult:
        s, hx, pts, table = _shared_view(data, filters)
        hot_at = get_settings().rules.risk_hot_score
        if self.view == "sum" and not hx.empty:
            hx = hx[hx["n_entities"] > 0]  # neighbours only matter for the smoothed density
        by = self._by_township(s, data, hot_at)
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

    def _by_township(self, s: pd.DataFrame, data: LayerData, hot_at: float) -> pd.DataFrame:
        t = data.townships
        by = pd.DataFrame({"code": t["code"].to_numpy() if not t.empty else []})
        if self.view == "sum":
            by["value"] = by["code"].map(s.groupby("township_code")["score"].sum()).fillna(0.0)
            by["label"] = "风险合计" + by["value"].round(0).astype(int).astype(str) + "分"
            return by
        area = t["area_km2"].to_numpy(float) if "area_km2" in t.columns else area_km2(t) if not t.empty else np.array([])
        hot = by["code"].map(s[s["score"] >= hot_at].groupby("township_code").size()).fillna(0)
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
