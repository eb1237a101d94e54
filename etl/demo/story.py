"""The demo's story: employers, projects, arrears cases and incidents on the 新密 map.

What the dashboard should find in it:
- townships lag on different mechanisms (`LAGS`): 超化镇 on 专户, 牛店镇 on 实名制/一卡通,
  来集镇 on 保证金, 刘寨镇 on 银行代发, 白寨镇 on 用工备案/维权公示牌; 苟堂镇 and 袁庄乡 budget
  their 应急周转金 below the floor (十);
- arrears cluster around a few hot spots (place.HOT_SPOTS) and on projects missing 专户 or
  银行代发, or stopped;
- risk precedes cases: most cases have a trouble onset 1-3 months before they are received
  (series.py drops the employer's indicators and stops wages from that month), a few
  projects are in trouble at the end with no case yet, and employers with past arrears are
  more likely to have arrears again (repeat boost per year).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.demo import names as nm
from etl.demo import place

END = np.datetime64("2026-10-31")  # the demo's "today": data as of the end of 2026-10
END_MONTH = 2026 * 12 + 9  # month index (year*12 + month-1) of 2026-10


@dataclass(frozen=True)
class Scale:
    """Sizes of one scenario; months = length of the monthly series ending 2026-10."""

    name: str
    enterprises: int
    projects: int
    cases: int
    incidents: int
    indicator_employers: int
    months: int
    case_months: int = 36
    big_as_csv: bool = False  # write the big tables as csv (province)


SCALES = {
    "city": Scale("city", 15_000, 2_000, 3_000, 40, 3_000, 36),
    "small": Scale("small", 1_500, 200, 300, 12, 300, 36),  # for tests
    "province": Scale("province", 300_000, 200_000, 300_000, 4_000, 300_000, 12, big_as_csv=True),
}

LAGS = {
    "410183104000": "special_account",  # 超化镇
    "410183102000": "real_name",  # 牛店镇
    "410183110000": "deposit",  # 来集镇
    "410183107000": "bank_payroll",  # 刘寨镇
    "410183108000": "filing",  # 白寨镇: 用工备案 late, 维权公示牌 missing
}
FUND_BELOW_FLOOR = {"410183105000": 30.0, "410183200000": 40.0}  # 苟堂镇, 袁庄乡 (十)
TOWNSHIP_WEIGHT = {
    "410183100000": 2.0,
    "410183402000": 2.5,
    "410183104000": 1.5,
    "410183401000": 0.3,
    "410183001000": 1.6,
    "410183002000": 1.6,
    "410183003000": 1.4,
    "410183400000": 1.2,
}
INDUSTRIES = np.array(["建筑", "房地产开发", "加工制造", "耐火材料", "矿山开采", "餐饮服务", "批发零售", "交通运输", "其他服务"])
INDUSTRY_P = np.array([0.16, 0.02, 0.20, 0.10, 0.04, 0.18, 0.18, 0.05, 0.07])
INDUSTRY_CASE = {
    "加工制造": 1.5,
    "耐火材料": 1.3,
    "矿山开采": 1.6,
    "餐饮服务": 1.2,
    "批发零售": 0.5,
    "交通运输": 0.8,
    "其他服务": 1.0,
}
CATEGORIES = np.array(["房屋建筑", "市政", "交通", "水务"])


def lag_mask(township: np.ndarray, mechanism: str) -> np.ndarray:
    """True for rows in the township that lags on `mechanism`."""
    codes = [c for c, m in LAGS.items() if m == mechanism]
    return np.isin(place.geo().codes[township], codes)


def _townships(rng: np.random.Generator, n: int) -> np.ndarray:
    codes = place.geo().codes
    w = np.array([TOWNSHIP_WEIGHT.get(c, 1.0) for c in codes])
    return rng.choice(len(codes), size=n, p=w / w.sum())


def _addresses(rng: np.random.Generator, township: np.ndarray, village: np.ndarray) -> np.ndarray:
    """新密市 + township + village + road + number: a full address naming a gazetteer place."""
    v = place.villages()
    roads = nm.ROADS[rng.integers(0, len(nm.ROADS), len(township))]
    no = rng.integers(1, 300, len(township)).astype(str)
    parts = [
        np.full(len(township), "新密市", dtype=object),
        place_names()[township],
        v["name"].to_numpy()[village],
        roads.astype(object),
        no.astype(object),
        np.full(len(township), "号", dtype=object),
    ]
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out


def place_names() -> np.ndarray:
    """Township names as written in addresses: full for 街道/镇/乡, short for the 管委会 (伏羲山风景区)."""
    g = place.geo()
    return np.array([n if not n.endswith("管理委员会") else n[: -len("管理委员会")] for n in g.names], dtype=object)


def enterprises(rng: np.random.Generator, scale: Scale, centres: list[np.ndarray]) -> pd.DataFrame:
    """Employers: codes, names, industries, places, size and a latent arrears propensity."""
    n = scale.enterprises
    t = _townships(rng, n)
    ind = INDUSTRIES[rng.choice(len(INDUSTRIES), n, p=INDUSTRY_P)]
    xy = place.points_for(rng, t, centres, sigma_km=1.2, uniform_share=0.4)
    vil = place.nearest_village(t, xy)
    employees = np.clip(np.round(rng.lognormal(np.log(25), 0.9, n)), 3, 3000).astype(int)
    migrant_share = np.where(ind == "建筑", 0.85, np.where(np.isin(ind, ["加工制造", "耐火材料", "矿山开采"]), 0.45, 0.25))
    return pd.DataFrame(
        {
            "credit_code": nm.credit_codes(rng, n),
            "name": nm.company_names(rng, ind),
            "industry": ind,
            "address": _addresses(rng, t, vil),
            "township": t,
            "village": vil,
            "lon": xy[:, 0],
            "lat": xy[:, 1],
            "legal_rep": nm.persons(rng, n),
            "phone": np.where(rng.random(n) < 0.6, nm.mobiles(rng, n), nm.landlines(rng, n)),
            "employees": employees,
            "migrant_workers": np.round(employees * migrant_share * rng.uniform(0.6, 1.2, n)).astype(int),
            "propensity": rng.lognormal(0, 0.8, n),  # latent: some employers are repeat offenders
        }
    )


def projects(rng: np.random.Generator, scale: Scale, centres: list[np.ndarray], ent: pd.DataFrame) -> pd.DataFrame:
    """Construction projects with their mechanisms; lagging townships miss theirs."""
    n = scale.projects
    t = _townships(rng, n)
    xy = place.points_for(rng, t, centres, sigma_km=1.0, uniform_share=0.3)
    vil = place.nearest_village(t, xy)
    cat = CATEGORIES[rng.choice(4, n, p=[0.6, 0.2, 0.1, 0.1])]
    gov = rng.random(n) < np.where(cat == "房屋建筑", 0.25, 0.9)
    value = np.round(np.clip(rng.lognormal(np.log(2500), 1.0, n), 50, 80_000), 2)
    start = np.datetime64("2022-01-01") + rng.integers(
        0, (np.datetime64("2026-09-30") - np.datetime64("2022-01-01")).astype(int), n
    )
    dur_m = np.where(cat == "房屋建筑", rng.integers(12, 31, n), rng.integers(4, 19, n))
    start_m = _month(start)
    end_m = start_m + dur_m
    stopped = (end_m > END_MONTH) & (rng.random(n) < 0.05 * place.hot_factor(xy).clip(1, 3))
    stop_m = np.where(stopped, start_m + (rng.random(n) * np.maximum(END_MONTH - start_m, 1)).astype(int), -1)
    status = np.where(end_m <= END_MONTH, "竣工", np.where(stopped, "停工", "在建"))
    # contractors: 建筑 employers, a few big ones win many projects (Zipf-like weights)
    builders_pool = np.flatnonzero(ent["industry"].to_numpy() == "建筑")
    w = 1.0 / np.arange(1, len(builders_pool) + 1) ** 0.8
    contractor = builders_pool[rng.permutation(len(builders_pool))][rng.choice(len(builders_pool), n, p=w / w.sum())]
    devs = np.flatnonzero(ent["industry"].to_numpy() == "房地产开发")
    builder = ent["name"].to_numpy()[devs[rng.integers(0, len(devs), n)]]
    # (二) 用工备案 within a month of start; 白寨镇 files late or not at all
    lag_f = lag_mask(t, "filing")
    delay = np.where(lag_f, rng.exponential(45, n), rng.exponential(10, n)).astype(int)
    filed = np.where(lag_f & (rng.random(n) < 0.35), np.datetime64("NaT"), start + delay)
    # (十一) 专户 opened and filed before start; 超化镇 often without one or opened late
    lag_s = lag_mask(t, "special_account")
    has_acct = rng.random(n) < np.where(lag_s, 0.55, 0.96)
    opened = start - rng.integers(5, 40, n) + np.where(lag_s & (rng.random(n) < 0.5), rng.integers(30, 120, n), 0)
    acct_filed = opened + rng.integers(1, 15, n)
    words = np.empty(n, dtype=object)
    for c, forms in nm.PROJECT_WORDS.items():
        m = cat == c
        words[m] = np.array(forms, dtype=object)[rng.integers(0, len(forms), int(m.sum()))]
    phase = np.array(["", "一期", "二期", "三期"], dtype=object)[rng.integers(0, 4, n)]
    digits = 6 if n >= 10_000 else 4
    year = (start.astype("datetime64[Y]").astype(int) + 1970).astype(str)
    return pd.DataFrame(
        {
            "project_code": np.char.add(np.char.add("XM", year), np.char.zfill((np.arange(n) + 1).astype(str), digits)).astype(
                object
            ),
            "name": place_names()[t] + words + phase,
            "category": cat,
            "funding": np.where(gov, "政府投资", "社会投资"),
            "builder": builder,
            "contractor_idx": contractor,
            "contractor": ent["name"].to_numpy()[contractor],
            "contractor_credit_code": ent["credit_code"].to_numpy()[contractor],
            "contractor_phone": ent["phone"].to_numpy()[contractor],
            "address": _addresses(rng, t, vil),
            "township": t,
            "village": vil,
            "lon": xy[:, 0],
            "lat": xy[:, 1],
            "contract_value": value,
            "start_date": start,
            "status": status,
            "start_m": start_m,
            "end_m": end_m,
            "stop_m": stop_m,
            "filed_date": filed,
            "labour_officer": np.where(lag_f & (rng.random(n) < 0.3), None, nm.persons(rng, n)),
            "labour_officer_phone": nm.mobiles(rng, n),
            "notice_board": rng.random(n) < np.where(lag_f, 0.55, 0.96),
            "special_account": has_acct,
            "special_account_bank": np.where(has_acct, nm.BANKS[rng.integers(0, len(nm.BANKS), n)], None),
            "special_account_opened": np.where(has_acct, opened, np.datetime64("NaT")),
            "special_account_filed": np.where(has_acct & (rng.random(n) < 0.92), acct_filed, np.datetime64("NaT")),
            "bank_payroll": rng.random(n) < np.where(lag_mask(t, "bank_payroll"), 0.5, 0.94),
            "payment_guarantee": rng.random(n) < np.clip(0.15 + value / 20_000, 0, 0.9),
        }
    )


def _month(d: np.ndarray) -> np.ndarray:
    """Month index year*12 + month-1 of datetime64 values."""
    return d.astype("datetime64[M]").astype(int) + 1970 * 12


def month_start(m: np.ndarray) -> np.ndarray:
    """datetime64[D] of the first day of month index m."""
    return (np.asarray(m) - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]")


def cases(rng: np.random.Generator, scale: Scale, ent: pd.DataFrame, prj: pd.DataFrame) -> pd.DataFrame:
    """Arrears cases over `scale.case_months` months, year by year so past arrears raise later risk."""
    first_m = END_MONTH - scale.case_months + 1
    n_years = int(np.ceil(scale.case_months / 12))
    per_year = np.diff(np.linspace(0, scale.cases, n_years + 1).round().astype(int))
    p_xy = prj[["lon", "lat"]].to_numpy()
    p_base = (
        place.hot_factor(p_xy)
        * np.where(prj["special_account"], 1.0, 2.5)
        * np.where(prj["bank_payroll"], 1.0, 1.6)
        * np.where(prj["notice_board"], 1.0, 1.3)
        * np.where(prj["status"] == "停工", 4.0, 1.0)
        * np.sqrt(prj["contract_value"].to_numpy() / 1000)
        * ent["propensity"].to_numpy()[prj["contractor_idx"]]
    )
    e_ind = ent["industry"].to_numpy()
    e_ok = ~np.isin(e_ind, ["建筑", "房地产开发"])
    e_base = (
        pd.Series(e_ind).map(INDUSTRY_CASE).fillna(0.0).to_numpy()
        * e_ok
        * place.hot_factor(ent[["lon", "lat"]].to_numpy())
        * np.sqrt(ent["employees"].to_numpy() / 20)
        * ent["propensity"].to_numpy()
    )
    had = np.zeros(len(ent), dtype=bool)  # employer had arrears in an earlier year
    rows = []
    for y in range(n_years):
        lo, hi = first_m + 12 * y, min(first_m + 12 * y + 11, END_MONTH)
        k = per_year[y]
        k_p = int(round(k * 0.62))
        a = np.maximum(prj["start_m"].to_numpy(), lo)
        b = np.minimum(np.where(prj["stop_m"] >= 0, prj["stop_m"] + 2, prj["end_m"]), hi)
        active = np.clip(b - a + 1, 0, None)
        w = p_base * active * np.where(had[prj["contractor_idx"]], 2.5, 1.0)
        pi = rng.choice(len(prj), k_p, p=w / w.sum())
        m_p = a[pi] + (rng.random(k_p) * active[pi]).astype(int)
        sub = rng.random(k_p) < 0.3  # 劳务分包: the employer is another 建筑 firm
        builders = np.flatnonzero(e_ind == "建筑")
        emp_p = np.where(sub, builders[rng.integers(0, len(builders), k_p)], prj["contractor_idx"].to_numpy()[pi])
        we = e_base * np.where(had, 2.5, 1.0)
        ei = rng.choice(len(ent), k - k_p, p=we / we.sum())
        m_e = lo + rng.integers(0, hi - lo + 1, k - k_p)
        rows.append(
            pd.DataFrame({"project": np.r_[pi, np.full(k - k_p, -1)], "employer": np.r_[emp_p, ei], "month": np.r_[m_p, m_e]})
        )
        had[np.r_[emp_p, ei]] = True
    c = pd.concat(rows, ignore_index=True)
    return _case_details(rng, c, ent, prj)


def _case_details(rng: np.random.Generator, c: pd.DataFrame, ent: pd.DataFrame, prj: pd.DataFrame) -> pd.DataFrame:
    n = len(c)
    proj = c["project"].to_numpy()
    emp = c["employer"].to_numpy()
    is_p = proj >= 0
    days = (month_start(c["month"].to_numpy() + 1) - month_start(c["month"].to_numpy())).astype(int)
    received = np.minimum(month_start(c["month"].to_numpy()) + (rng.random(n) * days).astype(int), END)
    order = np.argsort(received, kind="stable")
    c, proj, emp, is_p, received = c.iloc[order].reset_index(drop=True), proj[order], emp[order], is_p[order], received[order]
    workers = np.clip(np.round(rng.lognormal(np.where(is_p, np.log(14), np.log(6)), 0.8)), 1, 400).astype(int)
    months_owed = rng.integers(1, 7, n)
    amount = np.round(workers * months_owed * rng.uniform(0.35, 0.7, n), 2)
    resolve = np.round(rng.lognormal(np.log(28), 0.7, n)).astype(int) + 3
    closed_d = received + resolve
    special = rng.random(n)
    status = np.where(special < 0.03, "移送公安", np.where(special < 0.08, "仲裁", "结案"))
    open_ = (closed_d > END) | (status != "结案")
    age = (END - received).astype(int)
    status = np.where(
        (status == "结案") & open_,
        np.where(age < 7, "受理", np.where(age < 20, "核查", np.where(age < 45, "立案", "限期整改"))),
        status,
    )
    closed = np.where(status == "结案", closed_d, np.datetime64("NaT"))
    recovered = np.round(np.where(status == "结案", amount * rng.uniform(0.85, 1.0, n), amount * rng.uniform(0, 0.4, n)), 2)
    adv = (rng.random(n) < 0.08 + 0.1 * (workers > 30)) & (status != "受理")
    adv_src = np.array(
        ["乡镇应急周转金", "市级应急周转金", "工资保证金", "施工总承包单位先行垫付", "建设单位先行垫付"], dtype=object
    )
    src = np.array(["举报投诉", "12345", "巡查", "欠薪报告", "信访", "线索平台"])[
        rng.choice(6, n, p=[0.38, 0.27, 0.1, 0.05, 0.1, 0.1])
    ]
    p_safe = np.where(is_p, proj, 0)
    xy = np.where(is_p[:, None], prj[["lon", "lat"]].to_numpy()[p_safe], ent[["lon", "lat"]].to_numpy()[emp])
    lead = np.where(rng.random(n) < 0.75, rng.integers(30, 92, n), 0)  # most trouble shows 1-3 months early
    e_name = ent["name"].to_numpy()[emp]
    return pd.DataFrame(
        {
            "project": proj,
            "employer": emp,
            "received_date": received,
            "source": src,
            "project_code": np.where(is_p, prj["project_code"].to_numpy()[p_safe], None),
            "credit_code": ent["credit_code"].to_numpy()[emp],
            "employer_name": e_name,
            "address": np.where(is_p, prj["address"].to_numpy()[p_safe], ent["address"].to_numpy()[emp]),
            "township": np.where(is_p, prj["township"].to_numpy()[p_safe], ent["township"].to_numpy()[emp]),
            "village": np.where(is_p, prj["village"].to_numpy()[p_safe], ent["village"].to_numpy()[emp]),
            "lon": xy[:, 0],
            "lat": xy[:, 1],
            "workers": workers,
            "amount": amount,
            "status": status,
            "closed_date": closed,
            "recovered": recovered,
            "advanced": np.where(adv, np.round(np.minimum(amount, workers * 0.3), 2), 0.0),
            "advance_source": np.where(adv, adv_src[rng.integers(0, 5, n)], None),
            "description": (
                workers.astype(str).astype(object)
                + "名农民工反映"
                + e_name
                + "拖欠"
                + months_owed.astype(str).astype(object)
                + "个月工资"
            ),
            "complainant": nm.persons(rng, n),
            "complainant_id": nm.id_numbers(rng, n),
            "complainant_phone": nm.mobiles(rng, n),
            "onset": np.where(lead > 0, received - lead, np.datetime64("NaT")),
            "resolved": np.where(status == "结案", closed, END),
            "trouble_end": np.minimum(np.where(status == "结案", closed, END), received + 90),
        }
    )


def incidents(rng: np.random.Generator, scale: Scale, cs: pd.DataFrame) -> pd.DataFrame:
    """Group incidents that grew out of the bigger cases, mostly in the hot spots."""
    w = cs["workers"].to_numpy() ** 1.5 * place.hot_factor(cs[["lon", "lat"]].to_numpy()) * (cs["workers"].to_numpy() >= 8)
    k = min(scale.incidents, int((w > 0).sum()))
    ci = np.sort(rng.choice(len(cs), k, replace=False, p=w / w.sum()))
    src = cs.iloc[ci].reset_index(drop=True)
    when = (
        src["received_date"].to_numpy().astype("datetime64[m]")
        + rng.integers(0, 6, k).astype("timedelta64[D]")
        + rng.integers(8 * 60, 18 * 60, k).astype("timedelta64[m]")
    )
    when = np.minimum(when, END.astype("datetime64[m]") + np.timedelta64(10 * 60, "m"))
    head = np.maximum(np.round(src["workers"].to_numpy() * rng.uniform(0.6, 1.5, k)), 5).astype(int)
    grade = np.where(head >= 300, "特别重大", np.where(head >= 100, "重大", np.where(head >= 30, "较大", "一般")))
    tname = place.geo().names[src["township"].to_numpy().astype(int)].astype(object)
    recent = (END.astype("datetime64[m]") - when) < np.timedelta64(7 * 24 * 60, "m")
    year = (when.astype("datetime64[Y]").astype(int) + 1970).astype(str)
    return pd.DataFrame(
        {
            "incident_no": np.char.add(np.char.add("SJ", year), np.char.zfill((np.arange(k) + 1).astype(str), 4)).astype(object),
            "occurred_at": when,
            "address": src["address"].to_numpy(),
            "township": src["township"].to_numpy(),
            "village": src["village"].to_numpy(),
            "lon": src["lon"].to_numpy(),
            "lat": src["lat"].to_numpy(),
            "headcount": head,
            "grade": grade,
            "project_code": src["project_code"].to_numpy(),
            "status": np.where(recent, "处置中", "已处置"),
            "responding_units": "市人社局、" + tname + "、市公安局",
            "description": head.astype(str).astype(object) + "名农民工聚集讨要" + src["employer_name"].to_numpy() + "拖欠工资",
            "case": ci,
        }
    )
