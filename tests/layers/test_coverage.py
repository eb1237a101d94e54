"""Coverage rules and layers checked against hand counts, with the edge cases of each rule.

Reference point in every test: MARCH = months 2024-01..2024-03 → reference date 2024-03-31,
evaluation month 2024-03, "last month" 2024-02; rules from the defaults (实名制/一卡通 ≥ 95%,
保证金 2% of contract value for a contractor without arrears (九), 用工备案 within 31 days).
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from geodata.settings import Rules
from layers.base import Filters
from layers.coverage import LAYERS, MECHANISMS, overall, township_coverage
from layers.coverage_rules import KEYS, gaps, project_status
from tests.layers.builders import MARCH, XSS, A, B, case, data, deposit, project, report


def status(d, filters=MARCH, **rules):
    return project_status(d, filters, Rules(**rules) if rules else None).set_index("project_code")


def row_state(st, key):
    """{project: 'met' | 'gap' | 'n/a'} for one mechanism."""
    return {c: ("met" if r[f"{key}_met"] else "gap" if r[f"{key}_app"] else "n/a") for c, r in st.iterrows()}


# ---- which projects count --------------------------------------------------------------------


def test_active_projects_only_and_started_by_reference_date():
    d = data([project("P1"), project("P2", status="停工"), project("P3", status="竣工"), project("P4", status=None),
              project("P5", start_date="2024-04-01"), project("P6", start_date=None)])
    st = status(d)
    assert sorted(st.index) == ["P1", "P2", "P6"]


def test_township_filter_and_memo_keyed_by_filters():
    d = data([project("P1"), project("P2", B)])
    assert list(project_status(d, Filters(month_to="2024-03", township=B))["project_code"]) == ["P2"]
    assert len(project_status(d, MARCH)) == 2  # a different filter is not served from the memo


def test_as_of_before_month_end_is_the_reference_date():
    # filed on 2024-03-20; viewed "as of" 2024-03-15 the filing did not exist yet
    d = data([project("P1", start_date="2024-02-01", filed_date="2024-03-20")])
    st = status(d, Filters(month_to="2024-03", as_of="2024-03-15"))
    assert row_state(st, "filing") == {"P1": "gap"}
    assert status(d)["filing_met"].item() is False  # late (deadline 03-03) even when filed


# ---- 实名制 / 一卡通 (三) ---------------------------------------------------------------------


def real_name_data():
    projects = [project(c) for c in ("P1", "P2", "P3", "P4", "P9")] + [
        project("P5", B), project("P6", B, start_date="2024-03-15")]
    reports = [
        report("P1", "2024-03", onsite=40, registered=40),
        report("P2", "2024-01", onsite=20, registered=20),
        report("P2", "2024-02", onsite=20, registered=15),
        report("P2", "2024-03", onsite=20, registered=18),
        report("P3", "2024-02", onsite=10, registered=12),  # March missing: February is the latest; capped at onsite
        report("P4", "2024-03", onsite=0, registered=0),  # nobody on site: not applicable
        report("P9", "2024-04", onsite=10, registered=0),  # after the evaluation month: ignored
    ]
    return data(projects, reports)


def test_real_name_per_project():
    st = status(real_name_data())
    assert row_state(st, "real_name") == {"P1": "met", "P2": "gap", "P3": "met", "P4": "n/a", "P9": "gap",
                                          "P5": "gap", "P6": "n/a"}
    assert st.loc["P2", "real_name_value"] == pytest.approx(90.0)
    assert st.loc["P3", "real_name_value"] == pytest.approx(100.0)
    assert st.loc["P3", "comp_month"] == "2024-02"
    # the gap began with the first failing month after the last good one
    assert st.loc["P2", "real_name_since"] == pd.Timestamp("2024-02-01")
    assert st.loc["P5", "real_name_since"] == pd.Timestamp("2024-01-10")  # no report: since the start


def test_real_name_by_township_hand_count():
    d = real_name_data()
    by = township_coverage(project_status(d, MARCH), d.townships, "real_name").set_index("code")
    # A: (40 + 18 + 10) / (40 + 20 + 10); P4 onsite 0 and P9 unreported add nothing to the ratio
    assert by.loc[A, "value"] == pytest.approx(68 / 70 * 100)
    assert by.loc[A, "n_gap"] == 2 and by.loc[A, "n_applicable"] == 4 and by.loc[A, "n_projects"] == 5
    assert by.loc[A, "label"] == "97.1%（68/70人）"
    assert math.isnan(by.loc[B, "value"]) and by.loc[B, "label"] == "无数据" and by.loc[B, "n_gap"] == 1


def test_real_name_threshold_boundary():
    d = data([project("P1"), project("P2")],
             [report("P1", onsite=100, registered=95), report("P2", onsite=100, registered=94)])
    assert row_state(status(d), "real_name") == {"P1": "met", "P2": "gap"}
    assert row_state(status(d, real_name_min=0.9), "real_name") == {"P1": "met", "P2": "met"}


def test_card_coverage_hand_count():
    d = data([project("P1"), project("P2"), project("P3", B)],
             [report("P1", onsite=40, cards=38), report("P2", onsite=10, cards=10), report("P3", onsite=0, cards=0)])
    st = status(d)
    assert row_state(st, "card") == {"P1": "met", "P2": "met", "P3": "n/a"}  # 38/40 = 95% meets 95%
    by = township_coverage(project_status(d, MARCH), d.townships, "card").set_index("code")
    assert by.loc[A, "value"] == pytest.approx(48 / 50 * 100)
    assert math.isnan(by.loc[B, "value"])


# ---- 专户 (十一) -------------------------------------------------------------------------------


def test_special_account_opened_and_filed_before_start():
    d = data([
        project("OK"),
        project("SAMEDAY", special_account_filed="2024-01-10"),  # filed on the start date: counts
        project("LATE", special_account_filed="2024-01-11"),
        project("OPENLATE", special_account_opened="2024-01-12", special_account_filed="2024-01-05"),
        project("NODATES", special_account_opened=None, special_account_filed=None),
        project("NONE", special_account=False, special_account_opened=None, special_account_filed=None),
        project("FUTURE", special_account_opened="2024-05-01", special_account_filed="2024-05-02", start_date=None),
        project("NOSTART", start_date=None),
    ])
    st = status(d)
    assert row_state(st, "special_account") == {
        "OK": "met", "SAMEDAY": "met", "LATE": "gap", "OPENLATE": "gap", "NODATES": "gap", "NONE": "gap",
        "FUTURE": "gap", "NOSTART": "met"}
    assert st.loc["LATE", "special_account_since"] == pd.Timestamp("2024-01-10")


# ---- 工资保证金 (九) ---------------------------------------------------------------------------


def test_deposit_held_vs_required():
    """(九) met when the deposit still held covers the rule's amount less `deposit_tolerance` (1%)."""
    d = data(
        [project(c) for c in ("EQ", "TOL", "SHORT", "TWO", "EXEMPT", "LATE", "USED")]
        + [project("NOVAL", contract_value=None), project("NOVAL0", contract_value=None), project("NONE")],
        deposits=[
            deposit("EQ", 20.0),  # 1000 万元 × 2% = 20: equal meets
            deposit("TOL", 19.8),  # 20 less 1%: the boundary meets
            deposit("SHORT", 19.79),
            deposit("TWO", 10.0, "2024-01-05"), deposit("TWO", 10.0, "2024-02-05"),
            deposit("EXEMPT", 0.0, status="减免"),  # 减免 without a 无拖欠证明: not exempt (不得擅自减免)
            deposit("LATE", 20.0, "2024-04-02"),  # paid after the reference date
            deposit("USED", 20.0, status="动用"),  # paid in, then used and not replenished: nothing held
            deposit("NOVAL", 5.0),  # no contract value: the amount cannot be set, a deposit held is enough
            {"credit_code": "91410183MA0000000X", "paid_date": "2024-01-05", "amount": 99.0, "status": "缴存"},
        ],
    )
    st = status(d)
    assert row_state(st, "deposit") == {"EQ": "met", "TOL": "met", "SHORT": "gap", "TWO": "met", "EXEMPT": "gap",
                                        "LATE": "gap", "USED": "gap", "NOVAL": "met", "NOVAL0": "gap", "NONE": "gap"}
    assert st.loc["SHORT", "deposit_required"] == pytest.approx(20.0)
    assert st.loc["TWO", "deposit_paid"] == pytest.approx(20.0)
    assert (st.loc["USED", "deposit_paid"], st.loc["USED", "deposit_balance"]) == (pytest.approx(20.0), 0.0)
    assert set(st["deposit_rule"]) == {"normal"} and math.isnan(st.loc["NOVAL", "deposit_required"])
    by = township_coverage(project_status(d, MARCH), d.townships, "deposit").set_index("code")
    assert by.loc[A, "value"] == pytest.approx(4 / 10 * 100)
    assert by.loc[A, "label"] == "40.0%（4/10个项目）"


X, Y, Z = "91410183MA00000X1X", "91410183MA00000Y2X", "91410183MA00000Z3X"


def differentiated():
    """Contractors' projects (1000 万元, started 2024-01-10): open arrears, past arrears, clean with a 证明, none."""
    cases = [case("C-X", credit_code=X, received_date="2023-06-01"),  # still open at the start
             case("C-Y", credit_code=Y, received_date="2023-06-01", status="结案", closed_date="2023-07-01")]
    projects = [project("FULL", contractor_credit_code=X), project("RAISED", contractor_credit_code=Y),
                project("EXEMPT", contractor_credit_code=Z), project("NORMAL"), project("FULL_OK", contractor_credit_code=X)]
    cert = {**deposit("EXEMPT", 0.0, status="减免"), "no_arrears_cert": True}
    deposits = [deposit("FULL", 30.0), deposit("RAISED", 30.0), cert, deposit("NORMAL", 20.0), deposit("FULL_OK", 50.0)]
    return data(projects, deposits=deposits, cases=cases)


def test_deposit_rate_follows_the_contractor_record():
    """(九) 差异化缴存: full rate (5%) while arrears are open, raised (3%) after past arrears, exempt after two clean
    years with a 无拖欠证明, normal (2%) otherwise."""
    st = status(differentiated())
    assert st["deposit_rule"].to_dict() == {"FULL": "full", "RAISED": "raised", "EXEMPT": "exempt", "NORMAL": "normal",
                                            "FULL_OK": "full"}
    assert st["deposit_required"].to_dict() == pytest.approx({"FULL": 50.0, "RAISED": 30.0, "EXEMPT": 0.0, "NORMAL": 20.0,
                                                              "FULL_OK": 50.0})
    assert row_state(st, "deposit") == {"FULL": "gap", "RAISED": "met", "EXEMPT": "met", "NORMAL": "met", "FULL_OK": "met"}
    from layers.coverage import evidence

    ev = evidence(st, "deposit")
    assert ev["FULL"] == "已缴30.0万元，余额30.0万元/应缴50.0万元（合同价款1000.0万元×5.0%，存在未结欠薪：全额缴存）"
    assert ev["EXEMPT"].startswith("减免：两年无拖欠")


def test_deposit_gaps_are_the_deposit_warnings():
    """Coverage and the deposit_short warning read one rule: the gaps are exactly the warned projects."""
    from layers.rules import warnings

    d = differentiated()
    more = data([project("SHORT"), project("USED"), project("NONE"), project("NOVAL", contract_value=None),
                 project("NOVAL0", contract_value=None)],
                deposits=[deposit("SHORT", 19.79), deposit("USED", 20.0, status="动用"), deposit("NOVAL", 5.0)])
    d.projects = pd.concat([d.projects, more.projects], ignore_index=True)
    d.deposits = pd.concat([d.deposits, more.deposits], ignore_index=True)
    st = status(d)
    gaps_ = set(st.index[st["deposit_app"] & ~st["deposit_met"]])
    w = warnings(d, Filters(month_to="2024-03"))
    assert gaps_ == set(w.loc[w["rule"] == "deposit_short", "entity_id"]) == {"FULL", "SHORT", "USED", "NONE", "NOVAL0"}


def test_deposit_rate_comes_from_settings():
    d = data([project("P1")], deposits=[deposit("P1", 20.0)])
    assert row_state(status(d, deposit_rate_normal=0.03), "deposit") == {"P1": "gap"}


# ---- 银行代发, 月结月清 (五)(十九) --------------------------------------------------------------


def test_bank_payroll_flag_values():
    d = data([project("T", bank_payroll=True), project("S", bank_payroll="是"), project("F", bank_payroll=False),
              project("N", bank_payroll=None)])
    assert row_state(status(d), "bank_payroll") == {"T": "met", "S": "met", "F": "gap", "N": "gap"}


def test_monthly_settled_paid_through_last_month():
    d = data(
        [project(c) for c in ("OK", "BEHIND", "NOREC", "FUTURE", "OLD")] + [project("NEW", start_date="2024-03-05")],
        [report("OK", paid_through="2024-02"),
         report("BEHIND", paid_through="2024-01"),
         report("FUTURE", month="2024-04", paid_through="2024-03"),  # a later report does not count
         report("OLD", month="2024-01", paid_through="2024-02")],  # only an old report, but it says paid through Feb
    )
    st = status(d)
    assert row_state(st, "monthly_settled") == {"OK": "met", "BEHIND": "gap", "NOREC": "gap", "FUTURE": "gap",
                                                "OLD": "met", "NEW": "n/a"}
    assert st.loc["BEHIND", "monthly_settled_since"] == pd.Timestamp("2024-02-01")  # first unpaid month
    assert st.loc["NOREC", "monthly_settled_since"] == pd.Timestamp("2024-01-10")


# ---- 公示牌 (三十一), 用工备案 (二), 劳资专管员 (四) ---------------------------------------------------


def test_notice_board_and_labour_officer():
    d = data([project("P1"), project("P2", notice_board=False, labour_officer=""), project("P3", notice_board=None,
                                                                                         labour_officer=None)])
    st = status(d)
    assert row_state(st, "notice_board") == {"P1": "met", "P2": "gap", "P3": "gap"}
    assert row_state(st, "labour_officer") == {"P1": "met", "P2": "gap", "P3": "gap"}


def test_filing_within_a_month_of_start():
    d = data([
        project("ONTIME", filed_date="2024-02-10"),  # start 01-10 + 31 days = 02-10: on the deadline counts
        project("LATE", filed_date="2024-02-11"),
        project("NEVER", filed_date=None),
        project("NOTDUE", start_date="2024-03-10", filed_date=None),  # deadline 04-10 not passed at 03-31
        project("EARLY", start_date="2024-03-10", filed_date="2024-03-15"),
        project("AFTERREF", filed_date="2024-04-05"),  # filed after the reference date: not filed then
        project("NOSTART", start_date=None, filed_date="2024-01-01"),
    ])
    st = status(d)
    assert row_state(st, "filing") == {"ONTIME": "met", "LATE": "gap", "NEVER": "gap", "NOTDUE": "n/a",
                                       "EARLY": "met", "AFTERREF": "gap", "NOSTART": "met"}
    assert st.loc["NEVER", "filing_since"] == pd.Timestamp("2024-02-11")


# ---- the layers ----------------------------------------------------------------------------


def test_every_mechanism_layer_builds_a_valid_figure():
    d = real_name_data()
    for key in KEYS:
        r = LAYERS[key].build(d, MARCH)
        assert r.key == key and r.unit == "%" and r.legend
        assert set(r.by_township["code"]) == {A, B}
        fig = go.Figure(data=[{**r.traces[0], "geojson": {"type": "FeatureCollection", "features": []}}, r.traces[1]])
        assert fig.data[0].type == "choroplethmap"
        assert len(r.table) == 7 and set(r.table["落实情况"]) <= {"达标", "缺失", "不适用"}
        assert r.notes[0].startswith(MECHANISMS[key].clause)


def test_points_colour_gaps_and_escape_names():
    d = data([project("P1", name=XSS), project("P2", notice_board=False)])
    r = LAYERS["notice_board"].build(d, MARCH)
    pts = r.points.set_index("id")
    assert pts.loc["P1", "category"] == "达标" and pts.loc["P2", "category"] == "缺失"
    assert pts.loc["P2", "link"] == "/project/P2"
    assert XSS not in pts.loc["P1", "label"] and "&lt;img src=x onerror=alert(1)&gt;" in pts.loc["P1", "label"]
    assert r.table.set_index("项目编号").loc["P1", "项目名称"] == XSS  # grids get plain text


def test_overall_matches_township_sums():
    d = real_name_data()
    st = project_status(d, MARCH)
    assert overall(st, "real_name") == pytest.approx(68 / 70 * 100)
    assert int(gaps(st, "real_name").sum()) == 3


def test_empty_store_gives_no_data_not_errors():
    d = data()
    for key in KEYS:
        r = LAYERS[key].build(d, MARCH)
        assert r.by_township["value"].isna().all() and r.points.empty


def test_monthly_settled_follows_the_reporting_month():
    # mid-April, the newest reports are March's: wages are due through February, not March
    d = data([project("OK"), project("BEHIND"), project("STALE"), project("NEW", start_date="2024-03-05")],
             [report("OK", "2024-03", paid_through="2024-02"), report("BEHIND", "2024-03", paid_through="2024-01"),
              report("STALE", "2024-01", paid_through="2023-12")])
    st = status(d, Filters(month_to="2024-04", as_of="2024-04-15"))
    assert row_state(st, "monthly_settled") == {"OK": "met", "BEHIND": "gap", "STALE": "gap", "NEW": "n/a"}
    assert row_state(st, "real_name") == {"OK": "met", "BEHIND": "met", "STALE": "met", "NEW": "n/a"}
    from layers.coverage import evidence

    gap_rows = project_status(d, Filters(month_to="2024-04", as_of="2024-04-15"))
    gap_rows = gap_rows[gap_rows["monthly_settled_app"] & ~gap_rows["monthly_settled_met"]]
    assert set(evidence(gap_rows, "monthly_settled")) == {
        "工资发放至2024年1月（应至2024年2月）", "工资发放至2023年12月（应至2024年2月）"}


# ---- the layer's table and points at scale (issue 8) -------------------------------------------


def many_projects(n: int = 150):
    """`n` projects in both townships, about half of them with gaps, a few without coordinates, one name to escape."""
    ps = [project(f"P{i:03d}", A if i % 3 else B, notice_board=i % 2 == 0, filed_date=None if i % 5 == 0 else "2024-01-20",
                  name=XSS if i == 7 else f"项目{i}", lon=None if i % 17 == 0 else 113.35) for i in range(n)]
    return data(ps, [report(p["project_code"], registered=30 if i % 4 == 0 else 40) for i, p in enumerate(ps)])


def reference_points(layer, st, limit):
    """The layer's points as they were made before labels were made for the kept points only (the old code)."""
    import html

    import numpy as np

    from layers.coverage import evidence
    from layers.palettes import NEUTRAL, OK, WARNING
    from layers.units import links

    key = layer.key
    placed = st[st["lon"].notna() & st["lat"].notna()]
    if len(placed) > limit:
        order = np.argsort(~gaps(placed, key).to_numpy(), kind="stable")[:limit]
        placed = placed.iloc[np.sort(order)]
    gap = gaps(placed, key)
    met = placed[f"{key}_met"]
    state = np.where(gap, "缺失", np.where(met, "达标", "不适用"))
    label = ("<b>" + placed["name"].fillna("").map(html.escape) + "</b><br>项目编号："
             + placed["project_code"].map(html.escape) + "<br>" + layer.mechanism.short + "：" + state + "<br>"
             + evidence(placed, key).map(html.escape))
    return pd.DataFrame({
        "id": placed["project_code"], "lon": placed["lon"], "lat": placed["lat"], "label": label,
        "color": np.where(gap, WARNING["orange"], np.where(met, OK, NEUTRAL)), "size": 8.0,
        "link": links("/project/", placed["project_code"]), "gap": gap, "category": state,
        "township_code": placed["township_code"],
    }).reset_index(drop=True)


def test_table_is_made_on_first_read_with_the_shape_announced():
    from layers.coverage import TABLE_COLUMNS

    d = many_projects(20)
    st = project_status(d, MARCH)
    names = dict(zip(d.townships["code"], d.townships["name"], strict=True))
    for key, layer in LAYERS.items():
        res = layer.build(d, MARCH)
        assert res.table_shape() == (len(st), TABLE_COLUMNS)
        assert res.__dict__["_table"]._frame is None  # not made by build
        pd.testing.assert_frame_equal(res.table, layer.table(st, names))
        assert list(res.table.columns) == TABLE_COLUMNS and len(res.table) == len(st), key


@pytest.mark.parametrize("limit", [100, 5000])
def test_points_capped_gaps_first_as_before(monkeypatch, limit):
    from geodata.settings import load_settings
    from layers import coverage

    s = load_settings(max_points_per_layer=limit)
    monkeypatch.setattr(coverage, "get_settings", lambda: s)
    d = many_projects()
    st = project_status(d, MARCH)
    for key, layer in LAYERS.items():
        for _ in range(2):  # the second build takes label heads and links made by the first
            res = layer.build(d, MARCH)
            pd.testing.assert_frame_equal(res.points, reference_points(layer, st, limit), check_exact=True)
        located = int((st["lon"].notna() & st["lat"].notna()).sum())
        assert len(res.points) == min(located, limit) and any("仅显示" in n for n in res.notes) == (located > limit), key
    # another window over the same frames reuses the texts kept per project row: still its own values
    april = Filters(month_from="2024-02", month_to="2024-04", as_of="2024-12-31")
    res = LAYERS["filing"].build(d, april)
    pd.testing.assert_frame_equal(res.points, reference_points(LAYERS["filing"], project_status(d, april), limit))


def test_township_figures_grouped_by_number_as_by_code():
    from layers.coverage import _terms

    def reference(status, towns, key):  # township_coverage's sums grouped by the code itself (the old code)
        num, den = _terms(status, key)
        g = pd.DataFrame({
            "code": status["township_code"], "numerator": num, "denominator": den, "n_projects": 1,
            "n_applicable": status[f"{key}_app"].astype(int), "n_met": status[f"{key}_met"].astype(int),
            "n_gap": gaps(status, key).astype(int)}).groupby("code", as_index=False).sum()
        return towns[["code", "name"]].merge(g, on="code", how="left")

    for d, f in ((many_projects(), MARCH), (many_projects(), Filters(month_to="2024-03", as_of="2024-12-31", township=B)),
                 (data(), MARCH)):
        st = project_status(d, f)
        for key in KEYS:
            got = township_coverage(st, d.townships, key)
            want = reference(st, d.townships, key)
            pd.testing.assert_frame_equal(got[want.columns[:2]], want[want.columns[:2]])
            for c in want.columns[2:]:
                pd.testing.assert_series_equal(got[c], want[c].fillna(0), check_exact=True)
