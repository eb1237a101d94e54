"""The map points of the 欠薪预警 layer (layers.rules): one per warned entity with a location.

`_points` groups the warnings on integer codes (`_points_grouped` is the pandas spelling it equals); with a
`limit` (the layer's cap on map points) it makes the groups' texts, labels and links for the points kept only:
province, ~150,000 warned entities of which the map shows 5,000. Apart from layers.rule_arrays for size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.base import LayerData, derived
from layers.credit import escape
from layers.rule_arrays import SEVERITY_COLOR, SEVERITY_RANK, _entity_rank, _severity_rank, entity_locations


def _points(data: LayerData, w: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """One point per warned entity with a location: its worst severity, its rules (distinct, worst first) and a label.

    = `_points_grouped` (the pandas spelling), computed from integer group codes: the rules of each entity joined
    in one pass (np.add.reduceat) and the locations looked up in an index kept on the frames, not merged per window.
    `limit`: the first `limit` points only (= .head(limit)), made for those only (see `capped_points`).
    """
    return capped_points(data, w, limit)[0]


def capped_points(data: LayerData, w: pd.DataFrame, limit: int | None) -> tuple[pd.DataFrame, int]:
    """(_points(data, w).head(limit).reset_index(drop=True), len(_points(data, w))), the first made for those rows only."""
    if w.empty:
        return pd.DataFrame(), 0
    if (not isinstance(w.index, pd.RangeIndex) or w.index.start != 0 or w.index.step != 1
            or w["entity_id"].isna().any() or w["rule_zh"].isna().any()):
        pts = _points_grouped(data, w)
        return (pts if limit is None or len(pts) <= limit else pts.head(limit).reset_index(drop=True)), len(pts)
    perm = _severity_rank(w["severity"]).sort_values().index.to_numpy()  # the rows as sort_values("_o") orders them
    tcode, tuniq = pd.factorize(w["entity_type"].take(perm))
    ranked = _entity_rank(w)  # the ids as integers when `warnings` made w
    if ranked is not None and len(ranked[0]) == len(w):
        icode, ids = ranked[0][perm], ranked[1]
    else:
        ranked = None
        icode, ids = pd.factorize(w["entity_id"].take(perm))
    gid, _ = pd.factorize(tcode.astype(np.int64) * max(len(ids), 1) + icode)  # groups by first appearance (sort=False)
    n = int(gid.max()) + 1
    first = np.unique(gid, return_index=True)[1]
    etypes = np.asarray(tuniq, dtype=object)[tcode[first]]  # each group's entity type
    if ranked is None:
        at = _location_rows(data, etypes, w["entity_id"].take(perm[first]).reset_index(drop=True))
    else:  # each id of the universe located once
        by_type = _locations_of_ids(data, ids)
        idx = icode[first]
        at = np.full(n, -1, dtype=np.int64)
        for t, rows in by_type.items():
            mine = np.flatnonzero(etypes == t)
            at[mine] = rows[idx[mine]]
    keep = np.flatnonzero(at >= 0)  # the groups with a location, in the order of the points
    n_points = len(keep)
    if limit is not None:
        keep = keep[:limit]
    kept = np.zeros(n, dtype=bool)
    kept[keep] = True
    rows = perm[first[keep]]
    groups = pd.DataFrame({"entity_type": w["entity_type"].take(rows).reset_index(drop=True),
                           "entity_id": w["entity_id"].take(rows).reset_index(drop=True),
                           "severity": _first_valid(w["severity"], gid, n, perm, keep),
                           "name": _first_valid(w["entity_name"], gid, n, perm, keep)})
    # each entity's distinct rules in the order above, joined with 、 (the groups kept only)
    rcode, _ = pd.factorize(w["rule_zh"].take(perm))
    pair = gid.astype(np.int64) * (int(rcode.max()) + 1) + rcode
    d = np.flatnonzero(~pd.Series(pair).duplicated().to_numpy())
    d = d[kept[gid[d]]]
    d = d[np.argsort(gid[d], kind="stable")]
    zh = w["rule_zh"].to_numpy(dtype=object)[perm[d]]
    starts = np.flatnonzero(np.append(True, gid[d][1:] != gid[d][:-1])) if len(d) else np.zeros(0, dtype=np.int64)
    later = np.ones(len(d), dtype=bool)
    later[starts] = False
    zh[later] = "、" + zh[later]
    joined = np.add.reduceat(zh, starts) if len(d) else np.zeros(0, dtype=object)
    groups["rules"] = pd.Series(joined, dtype=object).astype("str")
    loc = entity_locations(data)
    pts = groups.copy()
    pts["lon"] = loc["lon"].to_numpy()[at[keep]]
    pts["lat"] = loc["lat"].to_numpy()[at[keep]]
    pts = pts.astype(_merged_dtypes(groups, loc))
    link = np.where(pts["entity_type"] == "project", "/project/", "/enterprise/")
    codes, uniq = pd.factorize(pts["rules"])  # a few hundred distinct lists of rules: each escaped once
    rules_html = pd.Series(escape(pd.Series(uniq)).to_numpy()[codes], index=pts.index, dtype=object)
    label = "<b>" + escape(pts["name"].fillna(pts["entity_id"])) + "</b><br>" + rules_html
    return pts.assign(label=label, color=pts["severity"].map(SEVERITY_COLOR),
                      size=np.where(pts["severity"] == "red", 12, 9), link=link + pts["entity_id"]), n_points


def _first_valid(values: pd.Series, gid: np.ndarray, n: int, perm: np.ndarray | None = None,
                 sel: np.ndarray | None = None) -> pd.Series:
    """Per group the first value that is not missing (groupby(...).first()); missing when the group has none.

    `perm`: the rows are values.take(perm) (made for the groups `sel` only, when given: the groups' values in that order)."""
    ok = np.flatnonzero(values.notna().to_numpy(dtype=bool) if perm is None else values.notna().to_numpy(dtype=bool)[perm])
    pos = np.full(n, -1, dtype=np.int64)
    u, i = np.unique(gid[ok], return_index=True)
    pos[u] = ok[i]
    every = (pos >= 0).all()
    if sel is not None:
        pos = pos[sel]
    at = np.maximum(pos, 0)
    out = values.iloc[at if perm is None else perm[at]].reset_index(drop=True)
    return out if every else out.where(pos >= 0)


def _location_rows(data: LayerData, etype: np.ndarray, eid: pd.Series) -> np.ndarray:
    """Row of entity_locations of each (entity_type, entity_id); -1 where it has none."""
    def build() -> dict[str, tuple[pd.Index, np.ndarray]]:
        loc = entity_locations(data)
        out = {}
        for t in ("project", "employer"):
            rows = np.flatnonzero((loc["entity_type"] == t).to_numpy(dtype=bool))
            out[t] = (pd.Index(loc["entity_id"].take(rows)), rows)  # unique: entity_locations drops duplicates
        return out

    ix = derived(data, ("projects", "enterprises"), ("rules.location_index",), build)
    at = np.full(len(eid), -1, dtype=np.int64)
    for t, (ids, rows) in ix.items():
        mine = np.flatnonzero(etype == t)
        found = ids.get_indexer(eid.iloc[mine])
        if len(rows):  # a scope without any located entity of this type (an official's township) finds none
            at[mine] = np.where(found >= 0, rows[np.maximum(found, 0)], -1)
    return at


def _locations_of_ids(data: LayerData, ids: pd.Index) -> dict[str, np.ndarray]:
    """Per entity type, the row of entity_locations of each id of the universe `ids` (-1: none); kept for the latest."""
    box = derived(data, ("projects", "enterprises"), ("rules.locations_of_ids",), dict)
    hit = box.get("value")
    if hit is not None and hit[0] is ids:
        return hit[1]
    by_type = {t: _location_rows(data, np.full(len(ids), t, dtype=object), pd.Series(ids)) for t in ("project", "employer")}
    box["value"] = (ids, by_type)
    return by_type


def _merged_dtypes(left: pd.DataFrame, loc: pd.DataFrame) -> dict:
    """The column types left.merge(loc, on=[entity_type, entity_id]) gives (the key columns may be coerced)."""
    proto = left.iloc[:0].merge(loc.iloc[:0], on=["entity_type", "entity_id"], how="inner")
    return proto.dtypes.to_dict()


def _points_grouped(data: LayerData, w: pd.DataFrame) -> pd.DataFrame:
    """_points spelt with groupby and merge (w with missing ids or another index)."""
    worst = w.assign(_o=w["severity"].map(SEVERITY_RANK)).sort_values("_o")
    g = worst.groupby(["entity_type", "entity_id"], sort=False).agg(severity=("severity", "first"), name=("entity_name", "first"))
    # each entity's rules, distinct, in the order above (one pass for all entities instead of one per entity)
    distinct = worst.drop_duplicates(["entity_type", "entity_id", "rule_zh"])
    g["rules"] = distinct.groupby(["entity_type", "entity_id"], sort=False)["rule_zh"].agg("、".join)
    pts = g.reset_index().merge(entity_locations(data), on=["entity_type", "entity_id"], how="inner")
    link = np.where(pts["entity_type"] == "project", "/project/", "/enterprise/")
    label = "<b>" + escape(pts["name"].fillna(pts["entity_id"])) + "</b><br>" + escape(pts["rules"])
    return pts.assign(label=label, color=pts["severity"].map(SEVERITY_COLOR),
                      size=np.where(pts["severity"] == "red", 12, 9), link=link + pts["entity_id"])
