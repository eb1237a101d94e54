"""Tests of the demo scenario generator (etl.demo): codes, determinism, files vs manifest, story."""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from etl.demo import SCALE_NAMES, names, place, simulate, write_demo
from geodata import schema
from geodata.boundaries import city_outline
from geodata.gcj02 import bd_to_wgs, gcj_to_wgs
from geodata.townships import to_code

SEED = 7


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo_small")
    return out, write_demo(out, scale="small", seed=SEED)


_READ: dict[tuple[str, str], pd.DataFrame] = {}


def _read(out: Path, f: dict) -> pd.DataFrame:
    """A demo file read back with plain pandas, as the manifest describes its layout (cached per file)."""
    key = (str(out), f["file"])
    if key not in _READ:
        _READ[key] = _read_file(out, f)
    return _READ[key].copy()


def _read_file(out: Path, f: dict) -> pd.DataFrame:
    if f["format"] == "xlsx":
        df = pd.read_excel(out / f["file"], header=None, dtype=object, skiprows=f["first_data_row"] - 1)
        headers = [h for h in _header_cells(out, f)]
        df.columns = headers[: df.shape[1]]
        return df.drop(columns=f["extra_columns"])
    return pd.read_csv(out / f["file"], encoding=f["encoding"], dtype=str, keep_default_na=False).replace("", None)


def _header_cells(out: Path, f: dict) -> list[str]:
    ws = openpyxl.load_workbook(out / f["file"], read_only=False)[f["sheet"]]
    top = [c.value for c in ws[f["header_row"]]]
    if f["header_rows"] == 2:
        sub = [c.value for c in ws[f["header_row"] + 1]]
        return [s if s is not None else t for t, s in zip(top, sub, strict=False)]
    return top


def _nfkc(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return unicodedata.normalize("NFKC", str(v)).strip()


def _key_value(v) -> str | None:
    """A key cell in comparable form: months (2024-03, 2024/3, 2024年3月, 202403, a date cell) as 2024-3."""
    if hasattr(v, "year") and hasattr(v, "month"):
        return f"{v.year}-{v.month}"
    s = _nfkc(v)
    if s is None:
        return None
    m = re.fullmatch(r"(\d{4})(?:[-/年](\d{1,2})月?|(\d{2}))", s)
    return f"{m[1]}-{int(m[2] or m[3])}" if m else s


# ---- codes --------------------------------------------------------------------------------


def _credit_check(body17: str) -> str:
    """GB 32100-2015 written out plainly, independent of names.py."""
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(chars.index(c) * w for c, w in zip(body17, weights, strict=True))
    return chars[(31 - total % 31) % 31]


def test_credit_codes_are_valid_distinct_and_breakable():
    rng = np.random.default_rng(1)
    codes = names.credit_codes(rng, 5000)
    assert len(set(codes)) == 5000
    assert all(len(c) == 18 and c.startswith("91410183") for c in codes)
    assert all(_credit_check(c[:17]) == c[17] for c in codes)
    assert all(names.credit_code_valid(c) for c in codes)
    broken = names.break_check_char(rng, codes[:200])
    assert all(b[:17] == c[:17] and _credit_check(b[:17]) != b[17] for b, c in zip(broken, codes[:200], strict=True))


def test_id_numbers_follow_gb11643():
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"
    assert check[sum(int(a) * w for a, w in zip("11010519491231002", weights, strict=True)) % 11] == "X"  # the standard's example
    ids = names.id_numbers(np.random.default_rng(2), 2000)
    assert all(len(i) == 18 and check[sum(int(a) * w for a, w in zip(i[:17], weights, strict=True)) % 11] == i[17] for i in ids)


def test_names_are_plainly_synthetic():
    rng = np.random.default_rng(3)
    firms = names.company_names(rng, np.array(["建筑", "餐饮服务", "耐火材料"] * 5))
    assert all(f.startswith("示例") and f[-5] in "甲乙丙丁戊己庚辛壬癸" for f in firms)
    people = names.persons(rng, 50)
    assert all(p.endswith("某") for p in people)


# ---- determinism ---------------------------------------------------------------------------


def _digest(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def test_rewriting_removes_the_other_format_of_a_file(tmp_path):
    stale = tmp_path / "01_市场监管局_用人单位名录.csv"  # as the province scale writes it
    stale.write_text("x", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    m = write_demo(tmp_path, scale="small", seed=SEED)
    assert not stale.exists() and (tmp_path / "notes.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f["file"] for f in m["files"]] + [m["gazetteer"]["file"], "manifest.json", "notes.txt"]
    )


def test_same_seed_same_bytes(tmp_path, small):
    out, _ = small
    again = tmp_path / "again"
    write_demo(again, scale="small", seed=SEED)
    assert _digest(again) == _digest(out)
    other = tmp_path / "other"
    write_demo(other, scale="small", seed=SEED + 1)
    changed = {k for k, v in _digest(other).items() if _digest(out).get(k) != v}
    assert "07_人社局_欠薪案件台账.xlsx" in changed and "manifest.json" in changed


# ---- files against the manifest ------------------------------------------------------------


def test_manifest_is_written_and_returned(small):
    out, m = small
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == m
    kinds = {f["kind"] for f in m["files"]}
    assert kinds == set(schema.DATA_TABLES)  # only loadable kinds: the CLI loads them in order
    assert m["gazetteer"]["rows"] == len(place.villages()) and (out / m["gazetteer"]["file"]).is_file()
    for f in m["files"]:
        assert (out / f["file"]).is_file()
        assert f["rows"] == f["rows_expected_loaded"] + f["rows_expected_rejected"]
        assert f["rows_expected_rejected"] == sum(f["rejected"].values()) == len(f["rejected_rows"])
        if f["geocode"]:
            assert sum(f["geocode"].values()) == f["rows_expected_loaded"]
    assert {f["format"] for f in m["files"]} == {"xlsx", "csv"}
    assert {f["encoding"] for f in m["files"] if f["format"] == "csv"} == {"gbk", "utf-8", "utf-8-sig"}
    assert {"wgs84", "gcj02", "bd09"} <= {f["crs"] for f in m["files"]}
    assert set(m["totals"]) == set(schema.DATA_TABLES)


def test_encodings_and_boms(small):
    out, m = small
    for f in m["files"]:
        if f["format"] != "csv":
            continue
        raw = (out / f["file"]).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") == (f["encoding"] == "utf-8-sig")
        if f["encoding"] == "gbk":
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            raw.decode("gbk")


def test_files_read_back_with_their_rows_and_headers(small):
    out, m = small
    for f in [*m["files"], m["gazetteer"]]:
        df = _read(out, f)
        assert len(df) == f["rows"], f["file"]
        assert list(df.columns) == list(f["columns"]), f["file"]


def test_headers_are_the_schema_names_or_aliases(small):
    _, m = small
    for f in m["files"]:
        table = schema.DATA_TABLES[f["kind"]]
        for header, field in f["columns"].items():
            if field in ("lon", "lat"):
                assert header in (schema.LON_FIELD if field == "lon" else schema.LAT_FIELD)
                continue
            accepted = {table.c[field].info["zh"], *table.c[field].info["aliases"]}
            base = header.replace("(元)", "").replace("（万元）", "(万元)")
            assert header in accepted or base in accepted or header == "是否开设", (f["file"], header)
    offices = [f for f in m["files"] if f["kind"] == "projects"]
    assert offices[0]["columns"].keys() != offices[1]["columns"].keys()  # different offices, different aliases


def test_xlsx_title_rows_and_merged_cells(small):
    out, m = small
    xlsx = [f for f in m["files"] if f["format"] == "xlsx"]
    assert xlsx and all(f["title_rows"] == 2 for f in xlsx)
    two_row = [f for f in xlsx if f["header_rows"] == 2]
    assert len(two_row) == 1
    for f in xlsx:
        ws = openpyxl.load_workbook(out / f["file"])[f["sheet"]]
        merged = {str(r) for r in ws.merged_cells.ranges}
        assert any(r.startswith("A1:") for r in merged), f["file"]  # the merged title cell
        if f["header_rows"] == 2:
            h = f["header_row"]
            assert any(r.endswith(str(h)) and not r.startswith("A") for r in merged)  # a group over sub-headers
            assert f"A{h}:A{h + 1}" in merged  # 序号 merged down


def test_money_in_yuan_where_the_header_says_so(small):
    out, m = small
    yuan = [f for f in m["files"] if "元" in f["units"].values()]
    assert yuan
    for f in yuan:
        field = next(k for k, v in f["units"].items() if v == "元")
        header = next(h for h, v in f["columns"].items() if v == field)
        vals = pd.to_numeric(_read(out, f)[header].map(_nfkc).str.replace(",", ""), errors="coerce")
        assert vals.median() > 10_000  # 元, not 万元


def test_planted_rejections_are_what_the_manifest_says(small):
    out, m = small
    for f in m["files"]:
        if not f["rejected_rows"]:
            continue
        df = _read(out, f)
        df.index = range(f["first_data_row"], f["first_data_row"] + len(df))
        by_field = {v: k for k, v in f["columns"].items()}
        table = schema.DATA_TABLES[f["kind"]]
        for row, code in f["rejected_rows"]:
            r = df.loc[row]
            if code == "bad_credit_code":
                assert not names.credit_code_valid(_nfkc(r[by_field["credit_code"]]))
            elif code == "missing_required":
                assert any(
                    _nfkc(r[by_field[c.name]]) in (None, "")
                    for c in table.columns
                    if c.info.get("required") and c.name in by_field
                )
            elif code == "duplicate_key":
                key = [by_field[k] for k in table.info["key"] if k in by_field]
                earlier = df.loc[: row - 1, key].map(_key_value)
                assert (earlier == r[key].map(_key_value).to_numpy()).all(axis=1).any(), (f["file"], row)
            elif code == "negative_value":
                assert any(str(_nfkc(v)).startswith("-") for v in r.to_numpy())
            elif code == "outside_city":
                assert not _in_city(r[by_field["lon"]], r[by_field["lat"]], f["crs"])
        # every credit code outside the planted rows is valid
        if "credit_code" in by_field:
            planted = {row for row, code in f["rejected_rows"] if code == "bad_credit_code"}
            codes = df[by_field["credit_code"]].map(_nfkc)
            ok = codes.dropna().map(names.credit_code_valid)
            assert set(ok.index[~ok]) == planted, f["file"]


def _in_city(lon, lat, crs: str) -> bool:
    x, y = float(_nfkc(lon)), float(_nfkc(lat))
    if x < y:
        x, y = y, x
    if crs == "gcj02":
        x, y = gcj_to_wgs(x, y)
    elif crs == "bd09":
        x, y = bd_to_wgs(x, y)
    return bool(shapely.contains_xy(city_outline(), float(x), float(y)))


def test_geocoding_plan_matches_the_cells(small):
    out, m = small
    villages = set(place.villages()["name"])
    for f in m["files"]:
        if not f["geocode"]:
            continue
        df = _read(out, f)
        by_field = {v: k for k, v in f["columns"].items()}
        df.index = range(f["first_data_row"], f["first_data_row"] + len(df))
        df = df.drop(index=[r for r, _ in f["rejected_rows"]])
        lon, lat = df[by_field["lon"]].map(_nfkc), df[by_field["lat"]].map(_nfkc)
        has = lon.notna() & lat.notna()
        swapped = has & (pd.to_numeric(lat, errors="coerce") > 90)
        addr = df[by_field["address"]].map(_nfkc) if "address" in by_field else pd.Series(None, index=df.index)
        named = addr.fillna("").map(lambda a: any(v in a for v in villages))
        assert int((has & ~swapped).sum()) == f["geocode"]["coord"], f["file"]
        assert int(swapped.sum()) == f["geocode"]["coord_swapped"], f["file"]
        assert int((~has & named).sum()) == f["geocode"]["gazetteer"], f["file"]
        assert int((~has & addr.isna()).sum()) == f["geocode"]["township"], f["file"]
        assert all(_in_city(a, b, f["crs"]) for a, b in zip(lon[has], lat[has], strict=True))


def test_mess_is_there_and_township_names_still_resolve(small):
    out, m = small
    old_forms = 0
    for f in m["files"]:
        df = _read(out, f)
        for header, field in f["columns"].items():
            if field != "township_name":
                continue
            vals = df[header].dropna().astype(str)
            assert vals.map(to_code).notna().all(), f["file"]
            old_forms += int(vals.str.contains("办事处|尖山|曲梁乡").sum())
    assert old_forms > 0
    ledger = next(f for f in m["files"] if f["file"].startswith("07_"))
    received = _read(out, ledger)["受理日期"].dropna()
    kinds = {type(v).__name__ for v in received}
    assert {"datetime", "str"} <= kinds and any(isinstance(v, (int, float)) for v in received)  # date cells, 年月日 text, serials
    assert received.astype(str).str.contains("年").any()
    fullwidth = sum(
        int(s["full_width"].get(k, 0)) for f in m["files"] for s in [f["mess"]] if "full_width" in s for k in s["full_width"]
    )
    assert fullwidth > 0
    assert any(isinstance(v, str) and v != v.strip() for f in m["files"] for v in _read(out, f).to_numpy().ravel())


def test_planted_sites_are_findable(small):
    out, m = small
    assert {s["site"] for s in m["planted_sites"]} == {"incident", "project", "case"}
    for s in m["planted_sites"]:
        f = next(x for x in m["files"] if x["file"] == s["file"])
        df = _read(out, f)
        text = df.map(lambda v: "" if v is None else str(v)).agg("".join, axis=1)
        hits = df[text.str.contains(s["search"], regex=False)]
        assert len(hits) == 1
        key_header = next(h for h, v in f["columns"].items() if v == s["key_field"])
        assert hits[key_header].iloc[0] == s["key"]
        assert shapely.contains_xy(city_outline(), s["lon"], s["lat"])


# ---- the story -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world() -> dict:
    return simulate("city", seed=SEED)


def test_townships_lag_on_different_mechanisms(world):
    prj = world["projects"]
    codes = place.geo().codes[prj["township"].to_numpy()]
    share = prj.assign(code=codes).groupby("code")[["special_account", "bank_payroll", "notice_board"]].mean()
    assert share.loc["410183104000", "special_account"] < share["special_account"].drop("410183104000").min()  # 超化镇
    assert share.loc["410183107000", "bank_payroll"] < share["bank_payroll"].drop("410183107000").min()  # 刘寨镇
    comp = world["compliance"]
    t = place.geo().codes[prj["township"].to_numpy()[comp["project"].to_numpy()]]
    reg = (comp["workers_registered"] / comp["workers_onsite"]).groupby(t).mean()
    assert reg.idxmin() == "410183102000"  # 牛店镇: 实名制
    dep = world["deposits"]
    covered = pd.Series(np.isin(np.arange(len(prj)), dep["project"]), index=codes).groupby(level=0).mean()
    assert covered.idxmin() == "410183110000"  # 来集镇: 保证金


def test_arrears_cluster_in_hot_spots(world):
    cs = world["cases"]
    per_t = pd.Series(place.geo().codes[cs["township"].to_numpy().astype(int)]).value_counts()
    assert per_t.index[0] in {c for c, *_ in place.HOT_SPOTS}
    assert per_t.iloc[:3].sum() > 0.35 * len(cs)


def test_risk_precedes_cases(world):
    cs, ind = world["cases"], world["indicators"]
    pre = cs[cs["onset"].notna()]
    assert len(pre) > 0.6 * len(cs)
    lead = (pre["received_date"] - pre["onset"]).dt.days
    assert lead.between(28, 95).all()
    # the employer's tax drops in the month before the case, against six months earlier
    first_m = ind["month"].min()
    rec_m = pre["received_date"].to_numpy().astype("datetime64[M]").astype(int) + 1970 * 12
    look = pd.DataFrame({"employer": pre["employer"].to_numpy(), "before": rec_m - 1, "base": rec_m - 7})
    look = look[look["base"] >= first_m]
    tax = ind.set_index(["employer", "month"])["tax_paid"]
    before = tax.reindex(pd.MultiIndex.from_arrays([look["employer"], look["before"]])).to_numpy()
    base = tax.reindex(pd.MultiIndex.from_arrays([look["employer"], look["base"]])).to_numpy()
    ok = np.isfinite(before) & np.isfinite(base)
    assert ok.sum() > 200
    assert np.median(before[ok] / base[ok]) < 0.75
    # wages stop being paid through the month before a case on a project
    comp = world["compliance"]
    assert (comp.loc[comp["trouble"], "paid_through_month"] < comp.loc[comp["trouble"], "month"] - 1).mean() > 0.5


def test_past_arrears_raise_later_risk(world):
    cs = world["cases"]
    year = cs["received_date"].dt.year
    first = set(cs.loc[year <= 2024, "employer"])
    later = cs[year >= 2025]
    repeat_rate = later["employer"].isin(first).mean()
    pool = len(world["enterprises"])
    assert repeat_rate > 5 * len(first) / pool


# ---- scale ---------------------------------------------------------------------------------


def test_city_scale_counts_and_time(tmp_path):
    t0 = time.perf_counter()
    m = write_demo(tmp_path / "city", scale="city", seed=SEED)
    elapsed = time.perf_counter() - t0
    assert elapsed < 90, f"city scale took {elapsed:.1f} s"
    tot = m["totals"]
    assert 1_950 <= tot["projects"]["rows_expected_loaded"] <= 2_000
    assert 14_800 <= tot["enterprises"]["rows_expected_loaded"] <= 15_000
    assert 2_950 <= tot["cases"]["rows_expected_loaded"] <= 3_000
    assert 36 <= tot["incidents"]["rows_expected_loaded"] <= 40
    assert tot["indicators"]["rows"] >= 3_000 * 36
    assert tot["funds"]["rows"] == 20 * 3
    assert tot["compliance"]["rows"] > 10_000
    months = m["story"]["series_months"]
    assert months[0] == "2023-11" and months[-1] == "2026-10" and len(months) == 36
    assert "province" in SCALE_NAMES
