"""The township worklist: each active project that lacks a mechanism, which ones, since when, who to call.

A project is on the list when any mechanism applies to it and is not met (coverage_rules:
`app & ~met`), the same test the coverage layers count, so the list and the map agree.
`(三十二) 属地负总责`: the township finds here what to fix in its territory this week.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from geodata.settings import get_settings
from layers.base import Filters, LayerData, memo
from layers.coverage import MECHANISMS, evidence, label_heads, located_rows, since_text
from layers.coverage_rules import KEYS, gaps, links_at, links_of, project_status
from layers.exports import mask_name, mask_phone
from layers.palettes import OK, WARNING
from layers.units import fmt_dates

WORKLIST_ZH = {
    "project_code": "项目编号", "name": "项目名称", "township": "所属乡镇", "contractor": "施工总承包单位",
    "contact": "劳资专管员", "contact_phone": "联系电话", "missing_zh": "缺失机制", "n_missing": "缺失项数",
    "since_label": "最早缺失自", "details": "情况说明", "status": "项目状态", "start_label": "开工日期",
}
ITEMS_ZH = {
    "project_code": "项目编号", "name": "项目名称", "township": "所属乡镇", "mechanism_zh": "缺失机制",
    "clause": "政策条款", "since_label": "缺失自", "evidence": "依据",
}


def gap_items(data: LayerData, filters: Filters | None = None) -> pd.DataFrame:
    """Long form: one row per (project, missing mechanism) with since and evidence."""
    filters = filters or Filters()
    st = project_status(data, filters)
    names = _names(data)
    parts = []
    for key in KEYS:
        sub = st[gaps(st, key)]
        if sub.empty:
            continue
        m = MECHANISMS[key]
        parts.append(pd.DataFrame({
            "project_code": sub["project_code"], "name": sub["name"], "township_code": sub["township_code"],
            "township": sub["township_code"].map(names), "mechanism": key, "mechanism_zh": m.short,
            "clause": m.clause, "since": sub[f"{key}_since"], "since_label": since_text(sub, key),
            "evidence": evidence(sub, key),
        }))
    if not parts:
        return pd.DataFrame(columns=["project_code", "name", "township_code", "township", "mechanism", "mechanism_zh",
                                     "clause", "since", "since_label", "evidence"])
    return pd.concat(parts, ignore_index=True).sort_values(["township_code", "project_code", "since"], kind="stable",
                                                           ignore_index=True)


def worklist(data: LayerData, filters: Filters | None = None, mask_pii: bool = True) -> pd.DataFrame:
    """One row per project with any gap: missing mechanisms, earliest since, contractor and contact, link.

    `mask_pii` masks the contact's name and phone (roles that may see them pass False).
    Sorted by number of gaps (most first), then by how long the oldest gap has run.
    Memoised on `data` (the overview's points, the township page and its export share it); do not modify.
    """
    filters = filters or Filters()
    f = filters
    key = ("worklist", f.month_to, f.as_of, f.township, get_settings().rules.model_dump_json())
    wl = memo(data, key, lambda: _worklist(data, filters))
    if not mask_pii:
        return wl
    # the masked list: the same rows and order (contacts do not sort), contact and phone masked
    return memo(data, (*key, "masked"), lambda: wl.assign(contact=mask_name(wl["contact"]),
                                                         contact_phone=mask_phone(wl["contact_phone"])))


def _worklist(data: LayerData, filters: Filters) -> pd.DataFrame:
    st = project_status(data, filters)
    gap = pd.DataFrame({k: gaps(st, k) for k in KEYS})
    any_gap = gap.any(axis=1)
    s, g = st[any_gap], gap[any_gap]
    missing_zh = np.full(len(s), "", dtype=object)
    missing = np.full(len(s), "", dtype=object)
    details = np.full(len(s), "", dtype=object)
    since = np.full(len(s), np.iinfo(np.int64).max)  # earliest gap start (ns), max = none yet
    for k in KEYS:
        has = g[k]
        if not has.any():
            continue
        short = MECHANISMS[k].short
        hv = has.to_numpy()
        _append(missing_zh, hv, short, "、")
        _append(missing, hv, k, ";")
        _append(details, hv, (short + "：" + evidence(s[hv], k)).to_numpy(), "；")
        new = s[f"{k}_since"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        since = np.where(hv & (new != np.iinfo(np.int64).min), np.minimum(since, new), since)
    since = pd.Series(np.where(since == np.iinfo(np.int64).max, np.iinfo(np.int64).min, since).view("datetime64[ns]"),
                      index=s.index)
    contact = s["labour_officer"]
    phone = s["labour_officer_phone"].fillna(s["contractor_phone"])
    out = pd.DataFrame({
        "project_code": s["project_code"], "name": s["name"], "township_code": s["township_code"],
        "township": s["township_code"].map(_names(data)), "contractor": s["contractor"],
        "contractor_credit_code": s["contractor_credit_code"], "contact": contact, "contact_phone": phone,
        "missing": missing, "missing_zh": missing_zh, "n_missing": g.sum(axis=1),
        "since": since, "since_label": fmt_dates(since), "details": details,
        "status": s["status"], "start_date": s["start_date"], "start_label": fmt_dates(s["start_date"]),
        "link": links_of(st, any_gap),
        "lon": s["lon"], "lat": s["lat"],
    })
    return out.sort_values(["n_missing", "since", "project_code"], ascending=[False, True, True], kind="stable",
                           ignore_index=True)


def project_points(data: LayerData, filters: Filters, limit: int) -> pd.DataFrame:
    """Active projects as the overview's shared point set: orange with "缺：<mechanisms>" where any mechanism is
    missing, blue "长效机制齐全" otherwise (lon, lat, label, color, size, link, gap).

    At most `limit` located projects, those with a gap first (each group in status order). The missing list is
    the worklist's `missing_zh`, made here from the gap flags without the worklist (its evidence texts and sort
    are for the township page); labels and links are made for the points kept only.
    """
    st = project_status(data, filters)
    flags = np.column_stack([gaps(st, k).to_numpy(dtype=bool) for k in KEYS])
    gap = flags.any(axis=1)
    rows = located_rows(st)
    if len(rows) > limit:  # what sort_values("gap", ascending=False, kind="stable").head(limit) keeps
        rows = np.concatenate([rows[gap[rows]], rows[~gap[rows]]])[:limit]
    # one text per combination of missing mechanisms (at most 2**9), as the worklist joins them
    combo, at = np.unique(flags[rows] @ (1 << np.arange(len(KEYS))), return_inverse=True)
    shorts = [MECHANISMS[k].short for k in KEYS]
    texts = np.array(["缺：" + html.escape("、".join(t for i, t in enumerate(shorts) if c >> i & 1)) if c else "长效机制齐全"
                      for c in combo.tolist()], dtype=object)
    label = label_heads(st, rows) + texts[at.reshape(-1)]
    gap = gap[rows]
    return pd.DataFrame({"lon": st["lon"].to_numpy()[rows], "lat": st["lat"].to_numpy()[rows], "label": label,
                         "color": np.where(gap, WARNING["orange"], OK), "size": 8.0, "link": links_at(st, rows),
                         "gap": gap})


def _append(acc: np.ndarray, rows: np.ndarray, text, sep: str) -> None:
    """acc[rows] += sep + text (text alone where acc is still empty), in place."""
    cur = acc[rows]
    acc[rows] = np.where(cur == "", text, cur + sep + text)


def worklist_table(wl: pd.DataFrame) -> pd.DataFrame:
    """The worklist with Chinese headers, for grids and the xlsx export."""
    return wl[list(WORKLIST_ZH)].rename(columns=WORKLIST_ZH)


def items_table(items: pd.DataFrame) -> pd.DataFrame:
    return items[list(ITEMS_ZH)].rename(columns=ITEMS_ZH)


def _names(data: LayerData) -> dict[str, str]:
    t = data.townships
    return dict(zip(t["code"].astype(str), t["name"].astype(str), strict=True))
