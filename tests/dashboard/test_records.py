"""The project page reads only its own rows plus its township's part of the window status: its checklist
and cases must equal what the whole window says, for every project, citywide and in an official's scope."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import services
from geodata.settings import load_settings
from layers import arrears, coverage
from layers.coverage_rules import KEYS, project_status
from layers.exports import mask_frame


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def demo_store(request, tmp_path_factory):
    """The small demo scenario through the real ETL."""
    from geodata.store import open_store
    from tests.conftest import _empty
    from tests.dashboard.conftest import load_small_demo

    out = tmp_path_factory.mktemp("demo")
    if request.param == "gpkg":
        store = open_store(str(out / "demo.gpkg"))
    else:
        store = open_store(request.getfixturevalue("pg_url"))
        _empty(store)
    load_small_demo(store, out / "files")
    return store


def test_project_page_equals_the_whole_window_for_every_project(demo_store):
    from dashboard.app import create_app

    small_store = demo_store
    app = create_app(store=small_store, settings=load_settings(db=small_store.url))
    with app.server.app_context():
        frm, to = services.month_window(None, None, None)
        data = services.window_data(None, to)
        f = services._filters(None, to)
        whole = project_status(data, f)
        st = whole.set_index("project_code")
        evidence = {k: dict(zip(whole["project_code"], coverage.evidence(whole, k), strict=True)) for k in KEYS}
        since = {k: dict(zip(whole["project_code"], coverage.since_text(whole, k), strict=True)) for k in KEYS}
        cs = arrears.case_state(data, f)
        raw = small_store.read("projects")
        load_order = dict(zip(*[small_store.read("cases")[c] for c in ("case_no", "id")], strict=True))
        codes = raw["project_code"].astype(str).tolist()
        assert len(codes) >= 50 and len(st) >= 20
        seen_cases = seen_gaps = seen_none = 0
        columns = None
        for code in codes[:80]:
            v = services.project_view(None, code, to, mask_pii=True)
            seen_cases += bool(v["cases"])
            seen_none += not v["cases"]
            seen_gaps += any(i["state"] == "缺失" for i in v["checklist"])
            assert v["active"] == (code in st.index)
            for item in v["checklist"]:
                k = item["key"]
                if code in st.index:
                    want = "达标" if st.at[code, f"{k}_met"] else ("缺失" if st.at[code, f"{k}_app"] else "不适用")
                    assert item["evidence"] == evidence[k][code], (code, k)  # the layers' text for the whole window
                    assert item["since"] == (since[k][code] if want == "缺失" else ""), (code, k)
                else:
                    want = "不适用"
                assert item["state"] == want, (code, k)
            shown = [c["案件编号"] for c in v["cases"]]
            assert set(shown) == set(cs.loc[cs["project_code"] == code, "case_no"]), code
            assert shown == sorted(shown, key=load_order.get), code  # in load order, whatever order a scan returned
            assert columns in (None, v["case_columns"])  # with or without cases: one table shape
            columns = v["case_columns"]
            # personal data masked exactly as the exports mask it (layers.exports.mask_frame), nothing else changed
            one = raw[raw["project_code"] == code].drop(columns=["geometry"])
            want_row = one.astype(object).where(one.notna(), None).to_dict("records")[0]
            assert v["project"] == mask_frame(pd.DataFrame([want_row]), "projects").astype(object).to_dict("records")[0]
            for c in ("labour_officer_phone", "contractor_phone", "labour_officer"):
                assert want_row[c] is None or v["project"][c] != want_row[c], (code, c)
        assert seen_none  # projects without cases were compared too
        town = small_store.read("projects")["township_code"].dropna().iloc[0]
        assert seen_cases and seen_gaps  # the comparison covered projects with cases and with gaps
        towns = small_store.read("projects").set_index("project_code")["township_code"]
        own = [c for c in codes[:80] if towns[c] == town]
        other = [c for c in codes[:80] if towns[c] != town]
        assert own and other
        ofrm, oto = services.month_window([town], None, None)
        assert all(services.project_view([town], c, oto) is not None for c in own)
        assert all(services.project_view([town], c, oto) is None for c in other)  # outside the scope: as if absent
    assert set(KEYS) == {i["key"] for i in v["checklist"]}


def test_township_grids_are_capped_with_the_total_shown(demo_store, monkeypatch):
    import sys

    from dashboard.app import create_app

    app = create_app(store=demo_store, settings=load_settings(db=demo_store.url))
    page = next(m for n, m in sys.modules.items() if n.endswith("pages.township"))  # imported by Dash's page registry
    with app.server.app_context():
        frm, to = services.month_window(None, None, None)
        full = {c: services.township_view(None, c, frm, to) for c in services.township_names(None)}
        code, view = max(full.items(), key=lambda kv: len(kv[1]["worklist"]))
        assert view["worklist_total"] == len(view["worklist"]) >= 3 and page._count(view) == f"{len(view['worklist'])}个项目"
    monkeypatch.setattr(services, "GRID_ROWS", 2)
    capped_app = create_app(store=demo_store, settings=load_settings(db=demo_store.url, max_points_per_layer=4999))
    with capped_app.server.app_context():  # (other settings: a view of its own, not the one cached above)
        capped = services.township_view(None, code, frm, to)
    assert capped["worklist"] == view["worklist"][:2]  # the most-missing first
    assert capped["worklist_total"] == view["worklist_total"] and f"共{view['worklist_total']:,}个项目" in page._count(capped)


def test_overview_project_points_keep_projects_with_gaps_first_under_the_cap(demo_store):
    """The shared project point set: located active projects, those missing a mechanism first (status order kept),
    at most max_points_per_layer; each label and link belongs to its own project."""
    from dashboard.app import create_app
    from layers import gaps

    cap = 50  # under the setting's minimum (100), for the small demo: model_copy does not validate
    app = create_app(store=demo_store, settings=load_settings(db=demo_store.url).model_copy(update={"max_points_per_layer": cap}))
    with app.server.app_context():
        frm, to = services.month_window(None, None, None)
        data, f = services.window_data(None, to), services._filters(frm, to)
        st, wl = project_status(data, f), gaps.worklist(data, f)
        pts = services._project_points(data, f)
    located = st[st["lon"].notna() & st["lat"].notna()]
    has_gap = located["project_code"].isin(wl["project_code"])
    assert len(located) > cap and has_gap.sum() < cap and (~has_gap).any()  # the cap bites, both kinds are kept
    want = pd.concat([located[has_gap], located[~has_gap]]).head(cap)
    assert len(pts) == cap
    assert pts["link"].tolist() == ["/project/" + c for c in want["project_code"]]
    assert pts["gap"].tolist() == want["project_code"].isin(wl["project_code"]).tolist()
    assert all(c in label for c, label in zip(want["project_code"], pts["label"], strict=True))
    assert pts["lon"].tolist() == want["lon"].tolist()
