"""Monthly series and yearly registers of the demo: compliance, indicators, deposits, funds, credit.

Trouble windows (from a case's onset, 1-3 months before it is received, to its resolution)
stop wages (paid_through_month stuck), cut 专户 funding and drop the employer's indicators,
so the risk layer sees it coming. All vectorised over (row, window) joins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.demo import place
from etl.demo.story import END, END_MONTH, FUND_BELOW_FLOOR, Scale, _month, lag_mask

CITY_UNIT = "410183000000"


def troubled_without_case(rng: np.random.Generator, prj: pd.DataFrame, share: float = 0.04) -> np.ndarray:
    """Projects active at the end whose trouble started in the last 3 months and has no case yet."""
    active = (prj["start_m"] <= END_MONTH - 3) & (prj["end_m"] > END_MONTH) & (prj["status"] == "在建")
    idx = np.flatnonzero(active.to_numpy())
    k = int(round(len(idx) * share))
    return np.sort(rng.choice(idx, k, replace=False)) if k else idx[:0]


def _windows(cs: pd.DataFrame, key: str, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """Trouble windows (key, onset_m, end_m) from cases with a precursor (+ extra windows)."""
    c = cs[cs["onset"].notna() & (cs[key] >= 0)]
    w = pd.DataFrame(
        {key: c[key].to_numpy(), "onset_m": _month(c["onset"].to_numpy()), "end_m": _month(c["trouble_end"].to_numpy())}
    )
    return pd.concat([w, extra], ignore_index=True) if extra is not None else w


def _in_window(rows_key: np.ndarray, rows_m: np.ndarray, win: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row: inside any window, and the earliest onset month of the windows it is in."""
    left = pd.DataFrame({key: rows_key, "m": rows_m, "row": np.arange(len(rows_key))})
    j = left.merge(win, on=key, how="inner")
    j = j[(j["m"] >= j["onset_m"]) & (j["m"] <= j["end_m"])]
    onset = j.groupby("row")["onset_m"].min()
    inside = np.zeros(len(rows_key), dtype=bool)
    inside[onset.index.to_numpy()] = True
    first = np.full(len(rows_key), -1)
    first[onset.index.to_numpy()] = onset.to_numpy()
    return inside, first


def compliance(rng: np.random.Generator, scale: Scale, prj: pd.DataFrame, cs: pd.DataFrame, no_case: np.ndarray) -> pd.DataFrame:
    """One row per active project and month of the series window."""
    first = END_MONTH - scale.months + 1
    a = np.maximum(prj["start_m"].to_numpy(), first)
    last = np.where(prj["stop_m"] >= 0, prj["stop_m"] + 1, prj["end_m"])
    b = np.minimum(last, END_MONTH)
    cnt = np.clip(b - a + 1, 0, None)
    p = np.repeat(np.arange(len(prj)), cnt)
    m = np.repeat(a, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    n = len(p)
    extra = pd.DataFrame({"project": no_case, "onset_m": END_MONTH - rng.integers(0, 3, len(no_case)), "end_m": END_MONTH})
    trouble, onset_m = _in_window(p, m, _windows(cs, "project", extra), "project")
    t = prj["township"].to_numpy()[p]
    base = np.clip(prj["contract_value"].to_numpy()[p] / 60, 5, 800)
    season = np.where(m % 12 == 1, 0.45, np.where(m % 12 == 0, 0.85, 1.0))  # Spring Festival
    ramp = np.where(m - prj["start_m"].to_numpy()[p] < 2, 0.5, 1.0)
    stopped = (prj["stop_m"].to_numpy()[p] >= 0) & (m > prj["stop_m"].to_numpy()[p])
    onsite = np.maximum(np.round(base * season * ramp * rng.lognormal(0, 0.15, n) * np.where(stopped, 0.1, 1.0)), 1).astype(int)
    lag_rn = lag_mask(t, "real_name")
    reg_rate = np.where(lag_rn, rng.uniform(0.55, 0.9, n), rng.uniform(0.96, 1.0, n))  # (三) 实名制
    registered = np.minimum(np.round(onsite * reg_rate), onsite).astype(int)
    cards = np.round(registered * np.where(lag_rn, rng.uniform(0.5, 0.9, n), rng.uniform(0.93, 1.0, n))).astype(int)
    due = np.round(onsite * rng.uniform(0.45, 0.65, n), 2)
    bank = prj["bank_payroll"].to_numpy()[p]
    paid_bank = np.round(
        due * np.where(bank, rng.uniform(0.95, 1.0, n), rng.uniform(0.0, 0.3, n)) * np.where(trouble, 0.2, 1.0), 2
    )
    acct = prj["special_account"].to_numpy()[p]
    funded = np.where(acct, np.round(due * np.where(trouble, rng.uniform(0.0, 0.3, n), rng.uniform(0.9, 1.2, n)), 2), np.nan)
    paid_through = np.where(trouble, onset_m - 1, m - (rng.random(n) < 0.85))  # (五) 月结月清: paid through last month
    return pd.DataFrame(
        {
            "project": p,
            "project_code": prj["project_code"].to_numpy()[p],
            "month": m,
            "workers_onsite": onsite,
            "workers_registered": registered,
            "cards_issued": cards,
            "wages_due": due,
            "wages_paid_bank": paid_bank,
            "account_funded": funded,
            "paid_through_month": paid_through,
            "trouble": trouble,
        }
    )


def indicator_employers(
    rng: np.random.Generator, scale: Scale, ent: pd.DataFrame, cs: pd.DataFrame, prj: pd.DataFrame, no_case: np.ndarray
) -> np.ndarray:
    """Employers watched by the early-warning indicators: those with cases first, then others."""
    must = np.unique(np.r_[cs["employer"].to_numpy(), prj["contractor_idx"].to_numpy()[no_case]])
    must = must[rng.permutation(len(must))][: int(scale.indicator_employers * 0.6)]
    rest = np.setdiff1d(np.arange(len(ent)), must)
    fill = rng.choice(rest, max(0, min(scale.indicator_employers - len(must), len(rest))), replace=False)
    return np.sort(np.r_[must, fill])


def indicators(
    rng: np.random.Generator, scale: Scale, ent: pd.DataFrame, cs: pd.DataFrame, prj: pd.DataFrame, no_case: np.ndarray
) -> pd.DataFrame:
    """(八) tax, electricity, water, social-insurance headcount and bank inflow per employer and month."""
    emp = indicator_employers(rng, scale, ent, cs, prj, no_case)
    first = END_MONTH - scale.months + 1
    e = np.repeat(emp, scale.months)
    m = np.tile(np.arange(first, END_MONTH + 1), len(emp))
    n = len(e)
    heavy = np.isin(ent["industry"].to_numpy(), ["耐火材料", "矿山开采", "加工制造"])
    size = ent["employees"].to_numpy().astype(float)
    lv = {  # per-employer levels, then broadcast to months
        "tax": size * rng.uniform(0.02, 0.1, len(ent)),
        "kwh": size * rng.uniform(200, 2000, len(ent)) * np.where(heavy, 5, 1),
        "water": size * rng.uniform(2, 10, len(ent)),
        "si": size * rng.uniform(0.5, 1.0, len(ent)),
        "inflow": size * rng.uniform(0.5, 3.0, len(ent)),
    }
    win_extra = pd.DataFrame(
        {
            "employer": prj["contractor_idx"].to_numpy()[no_case],
            "onset_m": END_MONTH - rng.integers(0, 3, len(no_case)),
            "end_m": END_MONTH,
        }
    )
    trouble, _ = _in_window(e, m, _windows(cs, "employer", win_extra), "employer")
    dip_emp = rng.random(len(ent)) < 0.1  # false alarms: a seasonal dip with no arrears
    dip_start = first + rng.integers(0, scale.months, len(ent))
    dip = dip_emp[e] & (m >= dip_start[e]) & (m < dip_start[e] + 2)
    season = np.where(m % 12 == 1, 0.6, np.where(m % 12 == 0, 0.9, 1.0))
    drop = np.where(trouble, rng.uniform(0.35, 0.65, n), np.where(dip, 0.7, 1.0))

    def series(level: np.ndarray, sd: float, extra: np.ndarray) -> np.ndarray:
        return level[e] * season * extra * rng.lognormal(0, sd, n)

    return pd.DataFrame(
        {
            "employer": e,
            "credit_code": ent["credit_code"].to_numpy()[e],
            "month": m,
            "tax_paid": np.round(series(lv["tax"], 0.12, drop), 2),
            "electricity_kwh": np.round(series(lv["kwh"], 0.08, drop)),
            "water_m3": np.round(series(lv["water"], 0.1, np.sqrt(drop))),
            "social_insurance_headcount": np.round(lv["si"][e] * np.where(trouble, rng.uniform(0.7, 0.9, n), 1.0)).astype(int),
            "bank_inflow": np.round(series(lv["inflow"], 0.15, drop), 2),
            "trouble": trouble,
        }
    )


def deposits(rng: np.random.Generator, prj: pd.DataFrame, cs: pd.DataFrame, ent: pd.DataFrame) -> pd.DataFrame:
    """(九) 工资保证金 per project, rate by the contractor's arrears history; 来集镇 misses or underpays."""
    n = len(prj)
    start = prj["start_date"].to_numpy().astype("datetime64[D]")
    con = prj["contractor_idx"].to_numpy()
    c = cs[["employer", "received_date", "resolved"]]
    j = pd.DataFrame({"p": np.arange(n), "employer": con, "start": start}).merge(c, on="employer")
    j = j[j["received_date"] < j["start"]]
    open_at = j[j["resolved"] > j["start"]]["p"].unique()
    recent = j[j["received_date"] >= j["start"] - np.timedelta64(730, "D")]["p"].unique()
    past = j["p"].unique()
    rate = np.full(n, 0.02)
    rate[past] = 0.03  # 发生过拖欠且已处理完毕: 提高比例
    rate[open_at] = 0.05  # 仍存在拖欠: 全额
    exempt = ~np.isin(np.arange(n), recent) & (rng.random(n) < 0.3)
    lag = lag_mask(prj["township"].to_numpy(), "deposit")
    present = rng.random(n) >= np.where(lag, 0.45, 0.04)
    under = lag & (rng.random(n) < 0.35)
    amount = np.round(prj["contract_value"].to_numpy() * rate * np.where(under, rng.uniform(0.3, 0.7, n), 1.0), 2)
    paid = start - rng.integers(0, 20, n) + np.where(lag & (rng.random(n) < 0.4), rng.integers(20, 90, n), 0)
    used = np.isin(np.arange(n), cs.loc[(cs["advance_source"] == "工资保证金") & (cs["project"] >= 0), "project"].to_numpy())
    done = prj["status"].to_numpy() == "竣工"
    status = np.where(exempt, "减免", np.where(used, "动用", np.where(done & (rng.random(n) < 0.5), "退还", "缴存")))
    reason = np.where(exempt, "两年内无拖欠，凭无拖欠证明减免", np.where(used, "垫付农民工工资", None))
    d = pd.DataFrame(
        {
            "project": np.arange(n),
            "project_code": prj["project_code"].to_numpy(),
            "credit_code": prj["contractor_credit_code"].to_numpy(),
            "paid_date": paid,
            "amount": np.where(exempt, 0.0, amount),
            "rate": np.where(exempt, 0.0, rate),
            "form": np.where(rng.random(n) < 0.7, "现金", "银行保函"),
            "status": status,
            "reason": reason,
            "no_arrears_cert": exempt,
        }
    )[present]
    # (九) 逐步扩大到其他行业: a few manufacturers deposit by credit code, no project
    other = np.flatnonzero(np.isin(ent["industry"].to_numpy(), ["加工制造", "矿山开采"]) & (rng.random(len(ent)) < 0.03))
    o = pd.DataFrame(
        {
            "project": -1,
            "project_code": None,
            "credit_code": ent["credit_code"].to_numpy()[other],
            "paid_date": np.datetime64("2024-01-01") + rng.integers(0, 900, len(other)),
            "amount": np.round(rng.uniform(5, 50, len(other)), 2),
            "rate": np.nan,
            "form": "现金",
            "status": "缴存",
            "reason": None,
            "no_arrears_cert": False,
        }
    )
    return pd.concat([d, o], ignore_index=True)


def funds(rng: np.random.Generator, cs: pd.DataFrame) -> pd.DataFrame:
    """(十) 应急周转金 per township and year, plus the city; two townships budget below the floor."""
    codes = place.geo().codes
    years = np.array([2024, 2025, 2026])
    units = np.append(codes.astype(object), CITY_UNIT)
    u = np.repeat(units, len(years))
    y = np.tile(years, len(units))
    budget = np.where(u == CITY_UNIT, rng.integers(200, 320, len(u)), rng.integers(50, 90, len(u))).astype(float)
    for code, b in FUND_BELOW_FLOOR.items():
        budget[u == code] = b
    cy = cs["received_date"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    town = codes[cs["township"].to_numpy().astype(int)]
    unit = np.where(
        cs["advance_source"] == "市级应急周转金", CITY_UNIT, np.where(cs["advance_source"] == "乡镇应急周转金", town, "")
    )
    used = pd.DataFrame({"u": unit, "y": cy, "v": cs["advanced"].to_numpy()}).groupby(["u", "y"])["v"].sum()
    used_v = np.round(np.array([used.get((a, b), 0.0) for a, b in zip(u, y, strict=True)]), 2)
    repl = np.round(
        used_v * np.where(np.isin(u, list(FUND_BELOW_FLOOR)), rng.uniform(0.0, 0.5, len(u)), rng.uniform(0.8, 1.0, len(u))), 2
    )
    repl = np.maximum(repl, np.round(used_v - budget, 2))  # a fund overdrawn is topped up: the balance never goes negative
    return pd.DataFrame(
        {
            "unit_code": u,
            "year": y,
            "budgeted": budget,
            "balance": np.round(budget - used_v + repl, 2),
            "used": used_v,
            "replenished": repl,
        }
    )


def credit(rng: np.random.Generator, ent: pd.DataFrame, cs: pd.DataFrame) -> pd.DataFrame:
    """(十三)(十四) yearly grades A-D from the previous year's cases, and the quarterly blacklist."""
    rated = np.flatnonzero(np.isin(ent["industry"].to_numpy(), ["建筑", "房地产开发"]) | (rng.random(len(ent)) < 0.15))
    rated = np.union1d(rated, cs["employer"].to_numpy())
    years = np.array([2024, 2025, 2026])
    e = np.repeat(rated, len(years))
    y = np.tile(years, len(rated))
    cy = cs["received_date"].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    g = (
        pd.DataFrame(
            {
                "e": cs["employer"].to_numpy(),
                "y": cy + 1,
                "police": cs["status"].to_numpy() == "移送公安",
                "open": cs["resolved"].to_numpy() >= END,
                "one": 1,
            }
        )
        .groupby(["e", "y"])
        .agg(n=("one", "sum"), police=("police", "any"), open_=("open", "any"))
    )
    k = pd.MultiIndex.from_arrays([e, y])
    st = g.reindex(k)
    ncase = st["n"].fillna(0).to_numpy()
    police = st["police"].fillna(False).to_numpy(dtype=bool)
    open_ = st["open_"].fillna(False).to_numpy(dtype=bool)
    grade = np.where(
        ncase == 0, np.where(rng.random(len(e)) < 0.7, "A", "B"), np.where((ncase >= 2) | police, "D", np.where(open_, "D", "C"))
    )
    black = (grade == "D") & (police | open_ | (rng.random(len(e)) < 0.3))
    q = rng.integers(0, 4, len(e))  # (十四) 每季度公布一次
    listed = (y - 1970).astype("datetime64[Y]").astype("datetime64[D]") + q * 91 + 9
    listed = np.minimum(listed, END)
    delisted = np.where(black & (rng.random(len(e)) < 0.3), listed + 365, np.datetime64("NaT"))
    delisted = np.where(delisted > END, np.datetime64("NaT"), delisted)
    reason = np.where(police, "拒不支付劳动报酬，已移送公安机关", "拖欠农民工工资经责令改正拒不改正")
    return pd.DataFrame(
        {
            "employer": e,
            "credit_code": ent["credit_code"].to_numpy()[e],
            "year": y,
            "grade": grade,
            "blacklisted": black,
            "listed_date": np.where(black, listed, np.datetime64("NaT")),
            "delisted_date": delisted,
            "reason": np.where(black, reason, None),
        }
    )
