"""The gap worklist, the KPIs and the monthly trend, on hand-built data."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from layers.base import Filters
from layers.coverage import LAYERS as COVERAGE
from layers.coverage_rules import KEYS
from layers.gaps import gap_items, worklist, worklist_table
from layers.kpi import as_dict, kpis
from layers.trend import monthly, table
from tests.layers.builders import MARCH, A, B, case, data, deposit, project, report


def scenario():
    return data(
        [project("P1"),
         project("P2", B, notice_board=False, filed_date=None, special_account_filed="2024-01-11",
                 labour_officer="王小明", labour_officer_phone="13712345678"),
         project("P3", labour_officer=None, labour_officer_phone=None, contractor_phone="0371-69812345"),
         project("P4", status="竣工", notice_board=False)],
        [report("P1"), report("P2", registered=30), report("P3")],
        [deposit("P1"), deposit("P2", 5.0), deposit("P3")],
        [case("C1", A, project_code="P1"), case("C2", B, "结案", closed_date="2024-03-20", received_date="2024-02-02")],
    )


def test_worklist_lists_exactly_the_projects_with_a_gap():
    d = scenario()
    wl = worklist(d, MARCH).set_index("project_code")
    assert list(wl.index) == ["P2", "P3"]  # P2 has 5 gaps, P3 one; P1 none; P4 is finished
    assert wl.loc["P2", "missing"] == "real_name;special_account;deposit;notice_board;filing"
    assert wl.loc["P2", "missing_zh"] == "实名制、工资专户、工资保证金、维权公示牌、用工备案"
    assert wl.loc["P2", "n_missing"] == 5
    assert wl.loc["P2", "since"] == pd.Timestamp("2024-01-10")  # earliest gap: the account at the start
    assert wl.loc["P2", "since_label"] == "2024年1月10日"
    assert wl.loc["P3", "missing_zh"] == "劳资专管员"
    assert wl.loc["P2", "township"] == "新华路街道" and wl.loc["P2", "link"] == "/project/P2"
    # same set as the coverage layers count
    for key in KEYS:
        gap_codes = set(COVERAGE[key].build(d, MARCH).points.query("gap")["id"])
        assert gap_codes == {c for c in wl.index if key in wl.loc[c, "missing"].split(";")}


def test_worklist_contacts_masked_by_default():
    d = scenario()
    masked = worklist(d, MARCH).set_index("project_code")
    assert masked.loc["P2", "contact"] == "王*明" and masked.loc["P2", "contact_phone"] == "137****5678"
    assert masked.loc["P3", "contact_phone"] == "037******2345"  # falls back to the contractor's phone
    plain = worklist(d, MARCH, mask_pii=False).set_index("project_code")
    assert plain.loc["P2", "contact"] == "王小明" and plain.loc["P2", "contact_phone"] == "13712345678"
    t = worklist_table(worklist(d, MARCH))
    assert list(t.columns[:4]) == ["项目编号", "项目名称", "所属乡镇", "施工总承包单位"]


def test_gap_items_long_form():
    items = gap_items(scenario(), MARCH)
    assert len(items) == 6
    p2 = items[items["project_code"] == "P2"].set_index("mechanism")
    assert p2.loc["filing", "since_label"] == "2024年2月11日"
    assert p2.loc["filing", "evidence"] == "开工2024年1月10日，期限2024年2月10日，未备案"
    assert p2.loc["real_name", "since_label"] == "2024年3月"
    assert p2.loc["deposit", "clause"] == "(九)"
    assert gap_items(data(), MARCH).empty


def test_kpis_hand_count():
    k = as_dict(kpis(scenario(), MARCH))
    assert k["arrears_cases"].value == 1 and k["arrears_cases"].label == "1件"
    assert k["arrears"].value == pytest.approx(10.0) and k["arrears"].label == "10.0万元"
    assert k["arrears_workers"].label == "5人"
    assert k["projects_with_gap"].value == 2 and k["projects_with_gap"].detail == "在建/停工项目3个，占66.7%"
    assert k["real_name"].value == pytest.approx(110 / 120 * 100) and k["real_name"].warn
    assert k["notice_board"].value == pytest.approx(200 / 3)
    assert k["card"].value == 100.0 and not k["card"].warn
    assert [x.unit for x in kpis(scenario(), MARCH)][:4] == ["件", "万元", "人", "个"]


def test_kpis_empty_store():
    k = as_dict(kpis(data(), MARCH))
    assert k["arrears_cases"].value == 0 and k["projects_with_gap"].value == 0
    assert math.isnan(k["real_name"].value) and k["real_name"].label == "—"


def test_monthly_trend():
    d = data(
        [project("P1"), project("P2", B)],
        [report("P1", "2024-01", onsite=10, registered=5, paid_through="2023-12"),
         report("P1", "2024-02", onsite=10, registered=10, paid_through="2023-12"),
         report("P2", "2024-02", onsite=30, registered=30, cards=15, paid_through="2024-01")],
        cases=[case("C0", received_date="2023-12-05", amount=3.0, workers=2),
               case("C1", received_date="2024-01-10", status="结案", closed_date="2024-02-03", amount=4.0, workers=3),
               case("C2", B, received_date="2024-03-01", amount=5.0, workers=7)],
    )
    s = monthly(d, MARCH).set_index("month")
    assert list(s.index) == ["2024-01", "2024-02", "2024-03"]
    assert s.loc["2024-03", "month_label"] == "2024年3月"
    assert s["new_cases"].tolist() == [1, 0, 1] and s["closed_cases"].tolist() == [0, 1, 0]
    assert s["open_cases"].tolist() == [2, 1, 2]
    assert s["new_amount_wan"].tolist() == [4.0, 0.0, 5.0] and s["new_workers"].tolist() == [3, 0, 7]
    assert s.loc["2024-01", "real_name_pct"] == 50.0 and s.loc["2024-02", "real_name_pct"] == 100.0
    assert s.loc["2024-02", "card_pct"] == pytest.approx((10 + 15) / 40 * 100)  # P1 cards capped at onsite
    assert s.loc["2024-02", "settled_pct"] == 50.0 and s.loc["2024-01", "settled_pct"] == 100.0
    assert math.isnan(s.loc["2024-03", "real_name_pct"]) and s.loc["2024-03", "reports"] == 0
    only_b = monthly(d, Filters(month_from="2024-01", month_to="2024-03", as_of="2024-12-31", township=B))
    assert only_b["new_cases"].tolist() == [0, 0, 1] and only_b["reports"].tolist() == [0, 1, 0]
    assert list(table(s.reset_index()).columns)[0] == "月份"


def test_trend_default_range_is_twelve_months():
    s = monthly(data(), Filters(month_to="2024-03", as_of="2024-12-31"))
    assert len(s) == 12 and s["month"].iloc[0] == "2023-04" and s["open_cases"].sum() == 0


def reference_project_points(d, f, limit):
    """dashboard.services._project_points as it was made from the worklist (the old code)."""
    import html
    from urllib.parse import quote

    import numpy as np

    from layers.coverage_rules import project_status
    from layers.palettes import OK, WARNING

    wl = worklist(d, f)
    st = project_status(d, f)
    located = (st["lon"].notna() & st["lat"].notna()).to_numpy()
    missing = st["project_code"].map(dict(zip(wl["project_code"], wl["missing_zh"], strict=True))).fillna("")
    gap = (missing != "").to_numpy()
    rows = np.flatnonzero(located)
    if len(rows) > limit:
        rows = np.concatenate([rows[gap[rows]], rows[~gap[rows]]])[:limit]
    st, missing, gap = st.iloc[rows], missing.iloc[rows], gap[rows]
    codes = st["project_code"].astype(str)
    label = ("<b>" + st["name"].fillna("").astype(str).map(html.escape) + "</b><br>项目编号："
             + codes.map(html.escape) + "<br>" + missing.map(lambda m: "缺：" + html.escape(m) if m else "长效机制齐全"))
    return pd.DataFrame({"lon": st["lon"].to_numpy(), "lat": st["lat"].to_numpy(), "label": label.to_numpy(),
                         "color": np.where(gap, WARNING["orange"], OK), "size": 8.0,
                         "link": ("/project/" + codes.map(lambda c: quote(str(c), safe=""))).to_numpy(), "gap": gap})


@pytest.mark.parametrize("limit", [2, 5000])
def test_project_points_as_made_from_the_worklist(limit):
    from layers.gaps import project_points
    from tests.layers.test_coverage import many_projects

    for d in (scenario(), many_projects(40), data()):
        for f in (MARCH, Filters(month_to="2024-03", as_of="2024-12-31", township=B)):
            got = project_points(d, f, limit)
            pd.testing.assert_frame_equal(got, reference_project_points(d, f, limit), check_exact=True)
            assert len(got) <= limit
