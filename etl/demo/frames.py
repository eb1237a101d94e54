"""The story's tables cut into the typed frames of each office's file, with the planted search sites."""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.demo import place
from etl.demo.story import END_MONTH

CHAOHUA = "410183104000"
QULIANG_ZONE = "410183402000"
CHENGGUAN = "410183100000"

SITES = {  # distinctive fragments for the emergency search tests (issue 7)
    "incident": "示例钢构厂东门外",
    "project": "示例溱洧花园三期",
    "case": "示例砖瓦厂院内",
}


def world_frames(rng: np.random.Generator, w: dict) -> tuple[dict[str, pd.DataFrame], list[dict]]:
    """File name prefix -> typed frame; and the planted sites (before any mess)."""
    ent, prj, cs, inc = w["enterprises"], w["projects"], w["cases"], w["incidents"]
    codes = place.geo().codes
    ent_f = ent.rename(columns={"township": "township_name"})
    ind = ent["industry"].to_numpy()
    sup = (codes[ent["township"].to_numpy()] == CHAOHUA) & ~np.isin(ind, ["建筑", "房地产开发"]) & (rng.random(len(ent)) < 0.4)
    prj_f = prj.rename(columns={"township": "township_name"})
    housing = prj["category"].isin(["房屋建筑", "市政"]).to_numpy()
    cs_f = cs.rename(columns={"township": "township_name"})
    hotline = (cs["source"] == "12345").to_numpy()
    year = cs["received_date"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    seq = pd.Series(np.ones(len(cs), dtype=int)).groupby([year, hotline]).cumsum().to_numpy()
    width = 6 if len(cs) >= 50_000 else 5
    cs_f["case_no"] = np.where(
        hotline,
        np.char.add(np.char.add("RX", year.astype(str)), np.char.zfill(seq.astype(str), width)),
        np.char.add(np.char.add(np.char.add("AJ", year.astype(str)), "-"), np.char.zfill(seq.astype(str), width)),
    )
    inc_f = inc.rename(columns={"township": "township_name"})
    frames = {
        "01": ent_f[~sup].reset_index(drop=True),
        "02": ent_f[sup].reset_index(drop=True),
        "03": prj_f[housing].reset_index(drop=True),
        "04": prj_f[~housing].reset_index(drop=True),
        "05": w["compliance"],
        "06": w["deposits"],
        "07": cs_f[~hotline].reset_index(drop=True),
        "08": cs_f[hotline].reset_index(drop=True),
        "09": inc_f,
        "10": _funds_frame(rng, w["funds"]),
        "11": w["indicators"],
        "12": w["credit"],
    }
    sites = _plant_sites(frames)
    return frames, sites


def _funds_frame(rng: np.random.Generator, f: pd.DataFrame) -> pd.DataFrame:
    """Fund holders as the 财政局 writes them: mostly codes, some by name, the city as 市本级."""
    f = f.copy()
    names = dict(zip(place.geo().codes, place.geo().names, strict=True))
    by_name = rng.random(len(f)) < 0.25
    f["unit_code"] = np.where(
        f["unit_code"] == "410183000000",
        np.where(by_name, "市本级", f["unit_code"]),
        np.where(by_name, f["unit_code"].map(names), f["unit_code"]),
    )
    return f


def _pick_site(df: pd.DataFrame, code: str, extra: np.ndarray | None = None) -> int:
    t = place.geo().codes[df["township_name"].to_numpy().astype(int)]
    ok = t == code
    if extra is not None:
        ok &= extra
    idx = np.flatnonzero(ok)
    return int(idx[0]) if len(idx) else 0


def _plant_sites(frames: dict[str, pd.DataFrame]) -> list[dict]:
    """Give one incident, one project and one case a distinctive, searchable name or address."""
    sites = []
    vil = place.villages()["name"].to_numpy()
    names = place.geo().names
    for key, prefix, code, field in (
        ("incident", "09", QULIANG_ZONE, "address"),
        ("project", "03", CHENGGUAN, "name"),
        ("case", "07", CHAOHUA, "address"),
    ):
        df = frames[prefix]
        extra = (df["status"] == "在建").to_numpy() if key == "project" else None
        i = _pick_site(df, code, extra)
        df["_protect"] = False
        df.loc[i, "_protect"] = True
        t = int(df.loc[i, "township_name"])
        if field == "address":
            df.loc[i, "address"] = (
                "新密市" + names[t].replace("郑州", "").replace("管理委员会", "") + vil[int(df.loc[i, "village"])] + SITES[key]
            )
        else:
            df.loc[i, "name"] = SITES[key]
        key_field = {"incident": "incident_no", "project": "project_code", "case": "case_no"}[key]
        sites.append(
            {
                "site": key,
                "kind": {"incident": "incidents", "project": "projects", "case": "cases"}[key],
                "file_prefix": prefix,
                "key_field": key_field,
                "key": str(df.loc[i, key_field]),
                "search": SITES[key],
                "name": str(df.loc[i, "name"]) if "name" in df else None,
                "address": str(df.loc[i, "address"]),
                "township_code": str(place.geo().codes[t]),
                "lon": round(float(df.loc[i, "lon"]), 6),
                "lat": round(float(df.loc[i, "lat"]), 6),
            }
        )
    return sites


def story_summary(w: dict) -> dict:
    """What the story planted, for tests of the layers and for people reading the manifest."""
    from etl.demo import story

    cs, prj = w["cases"], w["projects"]
    codes = place.geo().codes
    per_t = pd.Series(codes[cs["township"].to_numpy().astype(int)]).value_counts()
    return {
        "as_of": "2026-10-31",
        "lagging_townships": story.LAGS,
        "fund_below_floor": story.FUND_BELOW_FLOOR,
        "hot_spots": [{"township_code": c, "offset_km": list(o), "sigma_km": s, "strength": k} for c, o, s, k in place.HOT_SPOTS],
        "cases_by_township": {str(k): int(v) for k, v in per_t.sort_index().items()},
        "cases_with_precursor": int(cs["onset"].notna().sum()),
        "projects_in_trouble_without_case": [str(x) for x in prj["project_code"].to_numpy()[w["no_case"]]],
        "series_months": [f"{m // 12}-{m % 12 + 1:02d}" for m in range(END_MONTH - w["scale"].months + 1, END_MONTH + 1)],
    }
