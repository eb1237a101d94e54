"""Arrears layers: open at the reference date, owed amounts, per-township sums, points and links."""

from __future__ import annotations

import pandas as pd
import pytest

from layers.arrears import CLOSED_POINT, LAYERS, case_state, point_size, summary
from layers.base import Filters
from layers.palettes import WARNING
from tests.layers.builders import MARCH, XSS, A, B, case, data


def cases():
    return data(cases=[
        case("C1", A, "受理", amount=12.0, workers=5, recovered=2.0, project_code="P1"),
        case("C2", A, "移送公安", amount=30.0, workers=20, credit_code="91410183MA0000000X"),
        case("C3", A, "结案", amount=8.0, workers=3, closed_date="2024-02-20", received_date="2024-01-05"),
        case("C4", B, "结案", amount=6.0, workers=4, closed_date="2024-04-15"),  # closed after 03-31: open then
        case("C5", B, "结案", amount=5.0, workers=2, closed_date=None, received_date="2023-11-01"),  # closed, no date
        case("C6", B, "立案", amount=9.0, workers=6, received_date="2024-04-02"),  # received after 03-31
        case("C7", B, None, amount=1.0, workers=1, received_date="2023-12-01"),  # no status: open (在办)
    ])


def test_open_at_reference_date():
    cs = case_state(cases(), MARCH).set_index("case_no")
    assert sorted(cs.index) == ["C1", "C2", "C3", "C4", "C5", "C7"]
    assert cs["open"].to_dict() == {"C1": True, "C2": True, "C3": False, "C4": True, "C5": False, "C7": True}
    assert cs.loc["C4", "shown_status"] == "在办" and cs.loc["C7", "shown_status"] == "在办"
    assert cs.loc["C1", "owed"] == pytest.approx(10.0)  # 12 − 2 recovered
    assert cs.loc["C3", "owed"] == 0.0
    # as of today everything closed stays closed
    now = case_state(cases(), Filters(as_of="2024-12-31")).set_index("case_no")
    assert not now.loc["C4", "open"]


def test_by_township_hand_count():
    r = LAYERS["arrears"].build(cases(), MARCH)
    by = r.by_township.set_index("code")
    assert by.loc[A, "open_cases"] == 2 and by.loc[A, "amount_wan"] == pytest.approx(40.0) and by.loc[A, "workers"] == 25
    assert by.loc[B, "open_cases"] == 2 and by.loc[B, "amount_wan"] == pytest.approx(7.0) and by.loc[B, "workers"] == 5
    assert by.loc[A, "value"] == pytest.approx(40.0)
    assert by.loc[A, "label"] == "在办2件，欠薪40.0万元，涉及25人"
    # new / closed within 2024-01..2024-03
    assert by.loc[A, "new_cases"] == 3 and by.loc[A, "closed_cases"] == 1
    assert by.loc[B, "new_cases"] == 1 and by.loc[B, "closed_cases"] == 0
    assert summary(case_state(cases(), MARCH)) == {"open_cases": 4, "amount_wan": pytest.approx(47.0), "workers": 30.0}


def test_metric_layers_share_the_counts():
    d = cases()
    assert LAYERS["arrears_cases"].build(d, MARCH).by_township.set_index("code").loc[A, "value"] == 2
    assert LAYERS["arrears_workers"].build(d, MARCH).by_township.set_index("code").loc[B, "value"] == 5
    assert LAYERS["arrears"].higher_is_better is False and LAYERS["arrears"].unit == "万元"


def test_points_sized_by_amount_coloured_by_status_with_links():
    d = cases()
    d.cases.loc[d.cases["case_no"] == "C1", "employer_name"] = XSS
    r = LAYERS["arrears"].build(d, MARCH)
    pts = r.points.set_index("id")
    assert sorted(pts.index) == ["C1", "C2", "C3", "C4", "C7"]  # open + closed within the range (C5 closed earlier)
    assert pts.loc["C2", "color"] == WARNING["red"] and pts.loc["C3", "color"] == CLOSED_POINT and pts.loc["C3", "size"] == 5
    assert pts.loc["C2", "size"] > pts.loc["C1", "size"] > pts.loc["C7", "size"]
    assert pts.loc["C1", "link"] == "/project/P1"
    assert pts.loc["C2", "link"] == "/enterprise/91410183MA0000000X"
    assert pts.loc["C7", "link"] == ""
    assert XSS not in pts.loc["C1", "label"] and "&lt;img" in pts.loc["C1", "label"]
    labels = [i.label for i in r.legend]
    assert "案件：移送公安" in labels and "案件：结案（范围内结案）" in labels
    assert r.points["open"].tolist() == sorted(r.points["open"].tolist())  # closed drawn first, open on top


def test_point_size_scale():
    s = point_size(pd.Series([0.0, 4.0, 100.0, 10_000.0]))
    assert list(s) == [6.0, 12.0, 30.0, 30.0]


def test_township_filter_and_empty():
    r = LAYERS["arrears"].build(cases(), Filters(month_to="2024-03", as_of="2024-12-31", township=B))
    assert list(r.by_township["code"]) == [B]
    assert set(r.points["township_code"]) == {B}
    empty = LAYERS["arrears"].build(data(), MARCH)
    assert empty.by_township["value"].tolist() == [0.0, 0.0] and empty.points.empty


def test_default_range_is_twelve_months():
    d = data(cases=[case("OLD", status="结案", received_date="2022-05-01", closed_date="2022-06-01"),
                    case("RECENT", status="结案", received_date="2024-01-01", closed_date="2024-02-01"),
                    case("OPEN", received_date="2021-01-01")])
    f = Filters(month_to="2024-03", as_of="2024-12-31")  # no month_from: 2023-04..2024-03
    cs = case_state(d, f).set_index("case_no")
    assert cs["new_in_range"].to_dict() == {"OLD": False, "RECENT": True, "OPEN": False}
    pts = LAYERS["arrears"].build(d, f).points
    assert sorted(pts["id"]) == ["OPEN", "RECENT"]  # long-closed cases are not drawn; open ones always are


# ---- at scale (issue 8): the table made on first read, points capped before their labels are made ----------------


def many_cases(n: int = 130):
    statuses = ["受理", "立案", "移送公安", "结案", None]
    return data(cases=[
        case(f"C{i:03d}", A if i % 3 else B, statuses[i % 5], amount=float(i % 7), workers=i % 4 + 1,
             closed_date="2024-02-20" if i % 5 == 3 and i % 2 else None, lon=None if i % 19 == 0 else 113.36,
             township_code=None if i == 11 else (A if i % 3 else B), project_code=f"P{i}" if i % 2 else None)
        for i in range(n)])


def reference_points(cs, limit):
    """case_points as it was made before the labels were made for the kept points only (the old code)."""
    import html

    from layers.arrears import _colors
    from layers.units import fmt_dates

    c = cs[(cs["open"] | cs["closed_in_range"]) & cs["lon"].notna() & cs["lat"].notna()]
    esc = lambda s: s.fillna("").astype(str).map(html.escape)  # noqa: E731
    label = ("<b>案件 " + esc(c["case_no"]) + "</b><br>" + esc(c["employer_name"]) + "<br>状态：" + c["shown_status"]
             + "<br>欠薪金额：" + c["amount"].map(lambda v: f"{v:,.1f}万元")
             + "（未追回" + (c["amount"] - c["recovered"]).clip(lower=0).map(lambda v: f"{v:,.1f}万元") + "）"
             + "<br>涉及人数：" + c["workers"].round().astype(int).astype(str) + "人"
             + "<br>受理日期：" + fmt_dates(c["received"]))
    pts = pd.DataFrame({
        "id": c["case_no"], "lon": c["lon"], "lat": c["lat"], "label": label,
        "color": c["shown_status"].map(_colors(c["shown_status"])).where(c["open"], CLOSED_POINT),
        "size": point_size(c["amount"]).where(c["open"], 5.0), "link": c["link"],
        "open": c["open"], "amount": c["amount"], "category": c["shown_status"], "township_code": c["township_code"],
    })
    if len(pts) > limit:
        pts = pts.sort_values(["open", "amount"], ascending=[False, False], kind="stable").head(limit)
    return pts.sort_values(["open", "amount"], ascending=[True, False], kind="stable").reset_index(drop=True)


def reference_by_township(cs, towns):
    """township_arrears grouped by the code itself (the old code)."""
    o = cs["open"]
    g = pd.DataFrame({
        "code": cs["township_code"], "open_cases": o.astype(int), "amount_wan": cs["owed"],
        "workers": cs["workers"].where(o, 0.0), "new_cases": cs["new_in_range"].astype(int),
        "closed_cases": cs["closed_in_range"].astype(int), "advanced_wan": cs["advanced"],
    }).groupby("code", as_index=False).sum()
    out = towns[["code", "name"]].merge(g, on="code", how="left")
    for col in ("open_cases", "amount_wan", "workers", "new_cases", "closed_cases", "advanced_wan"):
        out[col] = out[col].fillna(0)
    return out


@pytest.mark.parametrize("limit", [100, 5000])
def test_points_capped_as_before(monkeypatch, limit):
    from geodata.settings import load_settings
    from layers import arrears

    s = load_settings(max_points_per_layer=limit)
    monkeypatch.setattr(arrears, "get_settings", lambda: s)
    d = many_cases()
    for f in (MARCH, Filters(month_from="2024-02", month_to="2024-04", as_of="2024-12-31"), Filters(month_to="2024-03",
              as_of="2024-12-31", township=B)):
        cs = case_state(d, f)
        pts, notes = arrears.case_points(cs)
        pd.testing.assert_frame_equal(pts, reference_points(cs, limit), check_exact=True)
        assert bool(notes) == (len(reference_points(cs, 10**6)) > limit)


def test_table_made_on_first_read_and_sums_shared_by_the_three_layers():
    from layers.arrears import TABLE_COLUMNS, case_table

    d = many_cases()
    for f in (MARCH, Filters(month_to="2024-03", as_of="2024-12-31", township=A)):
        cs = case_state(d, f)
        towns = pd.DataFrame({"code": d.townships["code"], "name": d.townships["name"]})
        towns = towns[towns["code"] == f.township].reset_index(drop=True) if f.township else towns
        shown = cs[cs["open"] | cs["closed_in_range"]]
        results = [LAYERS[k].build(d, f) for k in LAYERS]
        for k, r in zip(LAYERS, results, strict=True):
            assert r.table_shape() == (len(shown), TABLE_COLUMNS) and r.__dict__["_table"]._frame is None
            pd.testing.assert_frame_equal(r.table, case_table(shown, dict(zip(towns["code"], towns["name"], strict=True))))
            want = reference_by_township(cs, towns)
            want["value"] = want[LAYERS[k].column].astype(float)
            want["label"] = [f"在办{int(n)}件，欠薪{a:,.1f}万元，涉及{int(w)}人"
                             for n, a, w in zip(want["open_cases"], want["amount_wan"], want["workers"], strict=True)]
            pd.testing.assert_frame_equal(r.by_township, want, check_exact=True)
        assert results[0].by_township["value"].tolist() != results[1].by_township["value"].tolist()  # own value column


def test_statuses_present_counted_by_number_as_from_the_column():
    from layers.arrears import _statuses

    april = Filters(month_from="2024-02", month_to="2024-04", as_of="2024-12-31")
    for d in (cases(), many_cases()):
        for f in (MARCH, april, Filters(month_to="2024-03", as_of="2024-12-31", township=B)):
            cs = case_state(d, f)
            assert _statuses(cs) == set(cs["shown_status"].dropna().unique()), f
    later = data(cases=[case("X", status="结案", closed_date="2024-04-15")])  # closed after the date: shown 在办
    assert _statuses(case_state(later, MARCH)) == {"在办"} and _statuses(case_state(later, april)) == {"结案"}
