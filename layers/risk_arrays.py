"""The array machinery of the risk score (layers.risk): per-read tables and per-window integer scoring.

Why apart from layers.risk: the score is defined there (formula, `factors`, `score`, the heat layers);
this module is how a window computes it fast. What does not change with the month (every entity with
its contractor, rank, township and, per resolution, its H3 cell; the trend factors) is derived once per
read of the frames with `layers.base.derived` (`_entities`, `_trend_factors`; the H3 cells in
layers/risk_cells.py); a window maps its warnings and trend factors to integer entity codes and does the rest
with numpy and pandas groupby on integers (`_scored`), summing in the order the former merges and groupbys on
text did (so every float is the same). The score frame's rows are made only for the entities a view shows
(`_Scored.rows`; the whole frame on first use of `_Scored.frame`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from geodata.settings import Rules
from layers.base import Filters, LayerData, derived
from layers.credit import _enterprise_info, as_date, as_text, col
from layers.risk_lists import _factor_dicts, _largest_first, _sum_by_key, _top_codes, _top_texts
from layers.rule_arrays import trend_arrays, trend_frame
from layers.rules import INDICATOR_ZH, context, indicator_codes, indicator_trends, warnings

FACTOR_COLUMNS = ["entity_type", "entity_id", "factor", "factor_zh", "points", "source"]


def _trend_factors(data: LayerData, month: str, r: Rules) -> pd.DataFrame:
    """The trend factors of every employer (once per read of the indicators, month and rules; do not modify)."""
    return derived(data, ("indicators",), ("risk.trend_factors", month, r.model_dump_json()),
                   lambda: _trend_frame(indicator_trends(data, month, r), r))


def _trend_frame(tr: pd.DataFrame, r: Rules) -> pd.DataFrame:
    tr = tr[tr["drop"] > 0]
    return pd.DataFrame({
        "entity_type": "employer", "entity_id": tr["credit_code"], "factor": "trend_" + tr["field"],
        "factor_zh": tr["field"].map(lambda f: INDICATOR_ZH.get(f, (f, ""))[0]) + "下降趋势"
        + (tr["drop"].clip(0, 1) * 100).round(0).astype(int).astype(str) + "%",
        "points": r.risk_trend_points * tr["drop"].clip(0, 1), "source": "trend",
    })


def _trend_sample(data: LayerData, month: str, r: Rules) -> pd.DataFrame:
    """A frame with the columns and dtypes of `_trend_factors`, empty when it is: of at most one row per field
    (a field's frame is empty or not as it is in `indicator_trends`, so their concat has its dtypes)."""
    def build() -> pd.DataFrame:
        arrays = trend_arrays(data, month, r)
        if arrays is None:
            return _trend_factors(data, month, r)
        rows = [np.flatnonzero(t["drop"] > 0)[:1] for _, t in arrays]
        rows = [p if len(p) else np.arange(min(1, len(t["code"]))) for p, (_, t) in zip(rows, arrays, strict=True)]
        return _trend_frame(trend_frame(data, arrays, rows), r)

    return derived(data, ("indicators",), ("risk.trend_sample", month, r.model_dump_json()), build)


# ---- what does not change with the month: every entity once per read of the frames ---------------------

@dataclass
class _Entities:
    """Every project row (entity 0..n_proj-1, in the order of the frame) then every employer (n_proj + i, sorted).

    Built once per read of the frames; a window only picks its active projects. Do not modify.
    """

    frame: pd.DataFrame  # universe columns for every entity; a window's universe is frame.take(rows)
    n_proj: int
    status: pd.Series
    start: pd.Series
    group: np.ndarray  # project row -> index of its code in `codes` (-1 missing)
    codes: pd.Index  # distinct project codes
    first: np.ndarray  # code -> its first row
    unique: bool  # project codes distinct and present
    employers: pd.Index  # employer codes (entity n_proj + i)
    contractor: np.ndarray  # project row -> entity of its contractor (-1: none in the universe)
    rank: np.ndarray  # entity -> position in (entity_type, entity_id) order
    by_rank: np.ndarray  # its inverse
    town: np.ndarray  # entity -> index in `towns` (-1: none)
    towns: pd.Index
    memo: dict = field(default_factory=dict)  # derived per setting: done masks, H3 cells, escaped names


def _entities(data: LayerData) -> _Entities:
    return derived(data, ("projects", "enterprises", "indicators"), ("risk.entities",), lambda: _build_entities(data))


def _build_entities(data: LayerData) -> _Entities:
    p = (data.projects if data.projects is not None else pd.DataFrame()).reset_index(drop=True)
    code = as_text(col(p, "project_code", None))
    proj = _project_part(code, as_text(col(p, "name", None)), as_text(col(p, "township_code", None)),
                         as_text(col(p, "contractor_credit_code", None)).str.upper())
    info = _enterprise_info(data)
    codes = set(info.index.tolist())
    if data.indicators is not None and not data.indicators.empty:
        codes |= set(indicator_codes(data).tolist())
    codes = sorted(c for c in codes if isinstance(c, str) and c)
    emp = pd.DataFrame({"entity_type": "employer", "entity_id": codes})
    emp["name"] = emp["entity_id"].map(info["name"]) if not info.empty else pd.NA
    emp["township_code"] = emp["entity_id"].map(info["township_code"]) if not info.empty else pd.NA
    emp["contractor"] = pd.NA
    frame = pd.concat([proj, emp], ignore_index=True)
    n_proj, n_emp = len(proj), len(emp)
    group, uniq = pd.factorize(code, use_na_sentinel=True)
    first = np.full(len(uniq), -1, np.int64)
    seen, at = np.unique(group, return_index=True)
    first[seen[seen >= 0]] = at[seen >= 0]
    employers = pd.Index(codes, dtype=object)
    k = employers.get_indexer(proj["contractor"])
    rank = np.empty(n_proj + n_emp, np.int64)
    rank[n_proj:] = np.arange(n_emp)
    rank[np.argsort(code.to_numpy(dtype=object, na_value=""), kind="stable")] = n_emp + np.arange(n_proj)
    by_rank = np.empty_like(rank)
    by_rank[rank] = np.arange(len(rank))
    town, towns = pd.factorize(frame["township_code"], use_na_sentinel=True)
    return _Entities(frame, n_proj, as_text(col(p, "status", None)), as_date(col(p, "start_date")), group,
                     pd.Index(uniq), first, len(uniq) == n_proj and not (group < 0).any(), employers,
                     np.where(k >= 0, n_proj + k, -1), rank, by_rank, town, pd.Index(towns))


def _project_part(code: pd.Series, name: pd.Series, town: pd.Series, contractor: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"entity_type": "project", "entity_id": code, "name": name, "township_code": town,
                         "contractor": contractor})


def _take(ent: _Entities, entities: np.ndarray, no_projects: bool) -> pd.DataFrame:
    """Rows of the universe frame; without projects in the window, of the frame the employers alone make
    (its dtypes are those of a concat with an empty project part)."""
    if not no_projects:
        return ent.frame.take(entities)
    if "employers_only" not in ent.memo:
        f = ent.frame
        empty = _project_part(*(f[c].iloc[:0] for c in ("entity_id", "name", "township_code", "contractor")))
        ent.memo["employers_only"] = pd.concat([empty, f.iloc[ent.n_proj:]], ignore_index=True)
    return ent.memo["employers_only"].take(entities - ent.n_proj)


def _active_rows(ent: _Entities, ctx: Any, r: Rules) -> np.ndarray:
    """The project rows of the window's universe (`ctx.projects`, first row of each code), in the frame's order."""
    key = ("done", tuple(r.completed_statuses))
    if key not in ent.memo:
        ent.memo[key] = ent.status.isin(r.completed_statuses).fillna(False).to_numpy(bool)
    rows = np.flatnonzero(~ent.memo[key] & (ent.start.isna() | (ent.start <= ctx.as_of)).to_numpy(bool))
    want = ctx.projects["project_code"]
    have = ent.frame["entity_id"].array.take(rows) if len(rows) else None
    if len(rows) != len(want) or (len(rows) and not bool((have == want.array).all())):
        rows = ent.first[ent.codes.get_indexer(want)]  # the rules' notion of active differs: take theirs
    if not ent.unique:  # one entity per code, as drop_duplicates keeps it
        rows = rows[np.sort(np.unique(ent.group[rows], return_index=True)[1])]
    return rows



# ---- a window's scores: integer codes and arrays, no string merges ---------------------------------

class _Catalogue:
    """The distinct (factor, factor_zh, source) of a window, numbered; rows carry the number."""

    def __init__(self) -> None:
        self.ids: dict[tuple, int] = {}
        self.items: list[tuple] = []

    def add(self, factor: Any, zh: Any, source: str) -> int:
        key = (factor, zh, source)
        if key not in self.ids:
            self.ids[key] = len(self.items)
            self.items.append(key)
        return self.ids[key]

    def column(self, i: int) -> np.ndarray:
        return np.array([x[i] for x in self.items] + [None], dtype=object)

    def ranks(self) -> np.ndarray:
        """Each entry's position in (factor, factor_zh, source) order (as a groupby on the text sorts them)."""
        order = sorted(range(len(self.items)), key=self.items.__getitem__)
        out = np.empty(len(self.items), np.int64)
        out[order] = np.arange(len(order))
        return out


def _factorize_rows(*cols: pd.Series) -> tuple[np.ndarray, list[tuple]]:
    """Row -> index of its distinct tuple of `cols` values, and those tuples (missing values as None)."""
    combined = np.zeros(len(cols[0]), np.int64)
    uniqs = []
    for c in cols:
        k, u = pd.factorize(_plain(c), use_na_sentinel=True)
        combined = combined * (len(u) + 1) + (k + 1)
        uniqs.append([None, *u])
    fk, fu = pd.factorize(combined)  # = np.unique(combined, return_inverse=True), sorting the few distinct only
    order = np.argsort(fu, kind="stable")
    keys, at = np.asarray(fu)[order], np.empty(len(fu), np.int64)
    at[order] = np.arange(len(fu))
    return at[fk].reshape(-1), _tuples(keys, uniqs)


def _tuples(keys: np.ndarray, uniqs: list[list]) -> list[tuple]:
    """The value tuples of combined codes (each column's code + 1 in mixed radix; 0 = missing -> None)."""
    tuples = []
    for v in keys.tolist():
        parts = []
        for u in reversed(uniqs):
            v, i = divmod(v, len(u))
            parts.append(u[i])
        tuples.append(tuple(reversed(parts)))
    return tuples


def _plain(c: pd.Series) -> pd.Series | np.ndarray:
    """A text column as an object array (pd.factorize and get_indexer take it 2-4 times faster than a StringArray,
    with the same codes, the same distinct values and missing values as missing)."""
    return c.to_numpy(dtype=object) if isinstance(c.dtype, pd.StringDtype) else c


def _warning_rows(w: pd.DataFrame, ent: _Entities, rep: np.ndarray, r: Rules, cat: _Catalogue):
    """Own factor rows of the warnings (as `factors` makes them): entity (-1: not scored), catalogue entry, points."""
    e = np.full(len(w), -1, np.int64)
    tk, tu = pd.factorize(_plain(w["entity_type"]))
    ids = _plain(w["entity_id"])
    for kind in ("project", "employer"):
        m = tk == (list(tu).index(kind) if kind in list(tu) else -2)
        if m.any():
            index = ent.codes if kind == "project" else ent.employers
            k = index.get_indexer(ids[m])
            e[m] = rep[k] if kind == "project" else np.where(k >= 0, ent.n_proj + k, -1)
    inv, keys = _factorize_rows(w["rule"], w["rule_zh"], w["severity"])
    sev_zh = {"red": "红", "orange": "橙", "yellow": "黄"}
    sev_points = {"red": r.risk_points_red, "orange": r.risk_points_orange, "yellow": r.risk_points_yellow}
    ids, pts = [], []
    for rule, zh, sev in keys:
        ok = isinstance(rule, str) and isinstance(zh, str) and sev in sev_zh  # else the factor text is missing: not counted
        ids.append(cat.add(rule, zh + "（" + sev_zh[sev] + "）", "warning") if ok else -1)
        pts.append(float(sev_points[sev]) * float(r.rule_weights.get(rule, 1.0)) if ok else np.nan)
    c = np.asarray(ids, np.int64)[inv] if keys else np.zeros(0, np.int64)
    return np.where(c >= 0, e, -1), c, (np.asarray(pts, float)[inv] if keys else np.zeros(0))


def _trend_rows(data: LayerData, ent: _Entities, month: str, r: Rules) -> tuple[np.ndarray, list[tuple], np.ndarray, np.ndarray]:
    """The trend factors as entity, distinct (factor, factor_zh) and points (once per read, month and rules):
    = _factorize_rows(tf["factor"], tf["factor_zh"]) etc. of `_trend_factors`, from the trend arrays on integers."""
    def build():
        arrays = trend_arrays(data, month, r)
        if arrays is None:
            tf = _trend_factors(data, month, r)
            k = ent.employers.get_indexer(tf["entity_id"])
            inv, keys = _factorize_rows(tf["factor"], tf["factor_zh"])
            return np.where(k >= 0, ent.n_proj + k, -1), keys, inv, tf["points"].to_numpy(float)
        sel = [np.flatnonzero(t["drop"] > 0) for _, t in arrays]
        code = np.concatenate([t["code"][p] for p, (_, t) in zip(sel, arrays, strict=True)] + [np.zeros(0, np.int64)])
        clipped = np.clip(np.concatenate([t["drop"][p] for p, (_, t) in zip(sel, arrays, strict=True)] + [np.zeros(0)]), 0, 1)
        fi = np.repeat(np.arange(len(arrays)), [len(p) for p in sel])
        if "indicator_employers" not in ent.memo:
            ent.memo["indicator_employers"] = ent.employers.get_indexer(indicator_codes(data))
        k = ent.memo["indicator_employers"][code]
        pct = np.round(clipped * 100, 0).astype(int)  # the factor text: INDICATOR_ZH name + 下降趋势 + pct + %
        k1, u1 = pd.factorize(fi)
        pk, pu = pd.factorize(fi * 101 + pct)
        fields = [f for f, _ in arrays]
        zh_u = [INDICATOR_ZH.get(fields[v // 101], (fields[v // 101], ""))[0] + "下降趋势" + str(v % 101) + "%"
                for v in pu.tolist()]
        zk, zu = pd.factorize(np.asarray(zh_u, dtype=object))
        keys, inv = np.unique((k1 + 1) * (len(zu) + 1) + (zk[pk] + 1), return_inverse=True)
        names = [None, *("trend_" + fields[i] for i in u1.tolist())], [None, *zu.tolist()]
        tuples = [(names[0][v // (len(zu) + 1)], names[1][v % (len(zu) + 1)]) for v in keys.tolist()]
        return np.where(k >= 0, ent.n_proj + k, -1), tuples, inv.reshape(-1), r.risk_trend_points * clipped

    return derived(data, ("projects", "enterprises", "indicators"), ("risk.trend_rows", month, r.model_dump_json()), build)


def _expand(order: np.ndarray, owner: np.ndarray, n: int, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each entity of `wanted` in turn, the rows of `order` it owns (`owner[order]` grouped stably): (which, rows)."""
    o = order[np.argsort(owner[order], kind="stable")]
    cnt = np.bincount(owner[o], minlength=n)
    start = np.cumsum(cnt) - cnt
    m = cnt[wanted]
    total = int(m.sum())
    base = np.repeat(start[wanted] - (np.cumsum(m) - m), m)
    return np.repeat(np.arange(len(wanted)), m), o[base + np.arange(total)]


@dataclass(eq=False)
class _Scored:
    """A window's scores: per row of the `score` frame its entity, points, score and factor rows (sorted as in
    `factors`). The frame itself (every entity, with its factor dicts) is made on first use; a view takes the
    rows it shows (`rows`): the heat layers show the entities with points only (province: ~0.3 of 1.5 M)."""

    ent: np.ndarray  # entity of each frame row
    lo: np.ndarray  # its factor rows: f_*[lo:hi]
    hi: np.ndarray
    f_cat: np.ndarray
    f_contrib: np.ndarray
    cat: _Catalogue
    points: np.ndarray  # per frame row
    score: np.ndarray
    f_pts: np.ndarray
    top: int
    entities: _Entities
    no_projects: bool  # the window has no project (the frame is made from the employers alone)
    dtypes: pd.Series  # of entity_type and entity_id, as the merges on text gave them

    @cached_property
    def frame(self) -> pd.DataFrame:
        return self.rows(np.arange(len(self.ent)))

    def rows(self, sel: np.ndarray, index: pd.Index | None = None, factors: bool = True,
             top_text: np.ndarray | None = None) -> pd.DataFrame:
        """= frame.take(sel) (with `index`), making the rows `sel` only; without the column `factors` (the dicts) unless
        `factors`; `top_text`: the top_factors of those rows when the caller has them (`top_codes`)."""
        if not len(sel) and len(self.ent):  # the dtypes of the whole frame's columns, not of empty lists
            out = self.rows(np.arange(1), factors=factors).iloc[:0]
            return out if index is None else out.set_axis(index)
        out = _take(self.entities, self.ent[sel], self.no_projects).drop(columns="contractor").reset_index(drop=True)
        for k, dt in self.dtypes.items():
            if out[k].dtype != dt:
                out[k] = out[k].astype(dt)
        out["points"] = self.points[sel]
        out["score"] = self.score[sel]
        if factors:
            out["factors"] = _factor_dicts(self.cat, self.lo[sel], self.hi[sel], self.f_cat, self.f_pts, self.f_contrib)
        if top_text is None:
            top_text = _top_texts(self.cat, self.lo[sel], self.hi[sel], self.f_cat, self.f_contrib, self.top)
        out["top_factors"] = top_text
        return out if index is None else out.set_axis(index)

    def top_codes(self, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(codes, texts): the top_factors of the rows `sel` are texts[codes], each distinct text made once."""
        return _top_codes(self.cat, self.lo[sel], self.hi[sel], self.f_cat, self.f_contrib, self.top)


def _scored(data: LayerData, filters: Filters | None, r: Rules, top: int, warns: pd.DataFrame | None,
            township: str | None = None) -> _Scored:
    """Scores of every entity, or (township given) of the township's entities, each as scoring every entity gives."""
    ctx = context(data, filters, r)
    w = warnings(data, filters, r) if warns is None else warns
    ent = _entities(data)
    return _score_arrays(ent, _active_rows(ent, ctx, r), w, _trend_rows(data, ent, ctx.month, r),
                         _trend_sample(data, ctx.month, r), r, top, township)


def _score_arrays(ent: _Entities, rows: np.ndarray, w: pd.DataFrame, trend: tuple, te_frame: pd.DataFrame, r: Rules,
                  top: int, township: str | None) -> _Scored:
    """`_scored` from the window's project rows, warnings, trend rows (`_trend_rows`) and trend sample."""
    n_ent, n_proj = len(ent.rank), ent.n_proj
    rep = np.full(len(ent.codes) + 1, -1, np.int64)  # code -> its entity in the window (last: not found)
    g = ent.group[rows]
    rep[g[g >= 0]] = rows[g >= 0]
    cat = _Catalogue()
    we, wc, wp = _warning_rows(w, ent, rep, r, cat)
    te, keys, tinv, tp = trend
    tids = np.asarray([cat.add(f, z, "trend") if isinstance(f, str) and isinstance(z, str) else -1 for f, z in keys] + [-1],
                      np.int64)
    tc = tids[tinv] if len(tinv) else np.zeros(0, np.int64)
    e = np.concatenate([we, np.where(tc >= 0, te, -1)])
    keep = e >= 0
    e, c, p = e[keep], np.concatenate([wc, tc])[keep], np.concatenate([wp, tp])[keep]
    e_own = e  # te_frame: its dtypes and whether empty only

    # transmission: projects of the universe with a contractor in it, in universe order
    links = rows[ent.contractor[rows] >= 0]
    owner = np.where(e >= n_proj, e, n_ent)  # own rows of employers, passed down to their projects
    which, src = _expand(np.flatnonzero(e >= n_proj), owner, n_ent + 1, ent.contractor[links])
    down = np.asarray([cat.add("contractor_" + f, "施工单位：" + z, "contractor") for f, z, _ in list(cat.items)] + [-1],
                      np.int64)
    d_e, d_c, d_p = links[which], down[c[src]], r.risk_share * p[src]
    which, src = _expand(np.flatnonzero(e < n_proj), np.where(e < n_proj, e, n_proj), n_proj + 1, links)
    u_e, u_c, u_p = _passed_up(ent.contractor[links][which], links[which], c[src], p[src], cat, r.risk_share)

    # (entity, factor, factor_zh, source) summed, in the order of the text; total per entity
    e = np.concatenate([e, d_e, u_e])
    c = np.concatenate([c, d_c, u_c])
    p = np.concatenate([p, d_p, u_p])
    crank = cat.ranks()
    n_cat = max(len(crank), 1)
    key, f_pts = _sum_by_key(ent.rank[e] * n_cat + crank[c], p)
    f_rank = key // n_cat
    f_cat = np.empty(len(crank), np.int64)
    f_cat[crank] = np.arange(len(crank))
    f_cat = f_cat[key % n_cat] if len(key) else np.zeros(0, np.int64)
    tot = pd.Series(f_pts).groupby(f_rank, sort=False).sum()
    points = np.zeros(n_ent)
    points[ent.by_rank[tot.index.to_numpy(np.int64)]] = tot.to_numpy(float)
    score_ = 100 * (1 - np.exp(-points / r.risk_scale))
    f_ent = ent.by_rank[f_rank]
    s_of, S = score_[f_ent], points[f_ent]
    with np.errstate(divide="ignore", invalid="ignore"):
        f_contrib = np.where(S > 0, s_of * f_pts / S, 0.0)
    o = _largest_first(f_rank, f_contrib)  # each entity's factors, largest first (ties keep the text order)
    f_rank, f_cat, f_pts, f_contrib = f_rank[o], f_cat[o], f_pts[o], f_contrib[o]

    shown = np.concatenate([rows, n_proj + np.arange(len(ent.employers))])
    if township is not None:  # the linked entities only pass points on: the factor lists of the township's own
        t = ent.towns.get_indexer([township])[0]
        shown = shown[ent.town[shown] == t] if t >= 0 else shown[:0]
    shown = _by_score(shown, score_, ent)
    n_f = np.bincount(f_rank, minlength=n_ent)  # f_rank is sorted: each entity's factors are f_*[lo:hi]
    lo = (np.cumsum(n_f) - n_f)[ent.rank[shown]]
    hi = lo + n_f[ent.rank[shown]]
    # which parts had rows (in a township: of what it is linked to) decided the key dtypes of the text pipeline
    has_c = ent.frame["contractor"].iloc[:n_proj].notna().to_numpy(bool)
    linked = np.ones(n_ent + 1, bool)
    if township is not None:
        here = np.zeros(n_ent + 1, bool)
        here[shown] = True
        proj_here = rows[here[rows]]
        linked[:] = here
        linked[rows[here[ent.contractor[rows]]]] = True
        linked[ent.contractor[proj_here][ent.contractor[proj_here] >= 0]] = True
    in_proj = rows[linked[rows]]
    own_p = e_own[e_own < n_proj]
    uni0 = _take(ent, rows[:0], not len(rows))
    args = (len(w) > 0, len(te_frame) > 0, bool(linked[e_own].any()), len(in_proj) > 0, bool(has_c[in_proj].any()),
            bool((linked[d_e] & linked[ent.contractor[d_e]]).any()), bool((linked[own_p] & has_c[own_p]).any()))
    key = ("key_dtypes", *(f[k].dtype for f in (w, te_frame, uni0) for k in ("entity_type", "entity_id")),
           uni0["contractor"].dtype, args)
    if key not in ent.memo:
        ent.memo[key] = _key_dtypes(w, te_frame, uni0, *args)
    return _Scored(shown, lo, hi, f_cat, f_contrib, cat, points[shown], score_[shown], f_pts, top, ent, not len(rows),
                   ent.memo[key])


def _by_score(shown: np.ndarray, score_: np.ndarray, ent: _Entities) -> np.ndarray:
    """= shown[np.lexsort((ent.rank[shown], -score_[shown]))], sorting the entities with a score only (the others,
    most of them, in rank order by a mask over ent.by_rank): positives, zeros, then negatives and NaN."""
    zero = score_[shown] == 0
    if not zero.any():
        return shown[np.lexsort((ent.rank[shown], -score_[shown]))]
    a = shown[~zero]
    a = a[np.lexsort((ent.rank[a], -score_[a]))]
    mask = np.zeros(len(ent.rank), bool)
    mask[shown[zero]] = True
    pos = score_[a] > 0
    return np.concatenate([a[pos], ent.by_rank[mask[ent.by_rank]], a[~pos]])


def _key_dtypes(w: pd.DataFrame, tf: pd.DataFrame, uni: pd.DataFrame, wf_any: bool, tf_any: bool, own_any: bool,
                projects: bool, links: bool, down_any: bool, up_any: bool) -> pd.Series:
    """The dtypes of entity_type and entity_id in `score` as the merges and joins on text gave them: they follow
    which of the parts were empty. The same steps on stand-ins of one row each (a few ms)."""
    key = ["entity_type", "entity_id"]

    def like(col: str, frame: pd.DataFrame, values: list) -> pd.Series:
        return pd.Series(values, dtype=frame[col].dtype)

    u = [("employer", "E"), ("employer", "F")] + ([("project", "P")] if projects else [])
    uni2 = pd.DataFrame({"entity_type": like("entity_type", uni, [t for t, _ in u]),
                         "entity_id": like("entity_id", uni, [i for _, i in u]),
                         "contractor": like("contractor", uni, [pd.NA, pd.NA] + (["E" if links else pd.NA] if projects else []))})
    want = ([("employer", "E")] if down_any else []) + ([("project", "P")] if up_any else [])
    want = want or ([("employer", "F")] if own_any else [])
    rows = {"wf": [], "tf": []}
    rows["wf" if wf_any else "tf"] += want
    for k, any_ in (("wf", wf_any), ("tf", tf_any)):
        rows[k] += [] if rows[k] or not any_ else [("employer", "NONE")]
    parts = [pd.DataFrame({"entity_type": like("entity_type", f, [t for t, _ in rows[k]]),
                           "entity_id": like("entity_id", f, [i for _, i in rows[k]]), "factor": "f", "factor_zh": "z",
                           "points": 1.0, "source": "s"}) for k, f in (("wf", w), ("tf", tf)) if rows[k]]
    own = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=FACTOR_COLUMNS)
    own = own.merge(uni2[key], on=key, how="inner")
    links_ = uni2.loc[(uni2["entity_type"] == "project") & uni2["contractor"].notna(), ["entity_id", "contractor"]]
    links_ = links_.rename(columns={"entity_id": "project"})
    down = links_.merge(own[own["entity_type"] == "employer"], left_on="contractor", right_on="entity_id")
    down = pd.DataFrame({"entity_type": "project", "entity_id": down["project"], "factor": down["factor"],
                         "factor_zh": down["factor_zh"], "points": down["points"], "source": "contractor"})
    up = links_.merge(own[own["entity_type"] == "project"], left_on="project", right_on="entity_id")
    up = up.groupby(["contractor", "factor"], as_index=False).agg(points=("points", "sum"), zh=("factor_zh", "first"))
    up = pd.DataFrame({"entity_type": "employer", "entity_id": up["contractor"], "factor": up["factor"], "factor_zh": up["zh"],
                       "points": up["points"], "source": "projects"})
    moved = [x for x in (down, up) if not x.empty]
    moved = pd.concat(moved, ignore_index=True)[FACTOR_COLUMNS] if moved else pd.DataFrame(columns=FACTOR_COLUMNS)
    allf = pd.concat([x for x in (own, moved) if not x.empty] or [own], ignore_index=True)
    allf = allf.groupby(["entity_type", "entity_id", "factor", "factor_zh", "source"], as_index=False)["points"].sum()
    total = allf.groupby(key)["points"].sum().rename("points")
    return uni2.drop(columns="contractor").join(total, on=key)[key].dtypes


def _passed_up(contractor: np.ndarray, project: np.ndarray, c: np.ndarray, p: np.ndarray, cat: _Catalogue,
               share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per contractor and factor: its projects' points summed, as one factor "所承建项目：…（n个项目）"."""
    if not len(c):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    factor = cat.column(0)
    fk, fu = pd.factorize(factor[c])
    g = pd.DataFrame({"k": contractor * (len(fu) + 1) + fk, "p": project, "pts": p, "c": c}).groupby("k").agg(
        points=("pts", "sum"), n=("p", "nunique"), c=("c", "first"))
    k = g.index.to_numpy(np.int64)
    inv, keys = _factorize_rows(pd.Series(factor[g["c"].to_numpy()]), pd.Series(cat.column(1)[g["c"].to_numpy()]),
                                g["n"])
    ids = np.asarray([cat.add("projects_" + f, "所承建项目：" + re.sub(r"（[红橙黄]）$", "", z) + f"（{n}个项目）", "projects")
                      for f, z, n in keys], np.int64)
    return k // (len(fu) + 1), ids[inv], share * g["points"].to_numpy(float)
