"""Tests for dashboard/emergency_service.py on both backends: search, incidents saved and audited, response steps."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import emergency_service as svc
from layers.incidents import IncidentInputError
from tests.dashboard.test_emergency_browser import SITE


def _seed(store):
    d = 0.004
    with store.begin() as conn:
        b = store.new_batch(conn, "projects", "t.xlsx", "t")
        store.upsert(conn, "projects", pd.DataFrame({
            "project_code": ["XM-1"], "name": ["金水湾安置房一期"], "address": ["超化镇黄固寺村北"], "contractor": ["示例建工"],
            "contractor_phone": ["13800001111"], "labour_officer": ["李专管"], "labour_officer_phone": ["13700003333"],
            "township_code": ["410183104000"], "lon": [SITE[0] + d], "lat": [SITE[1]]}), b)
        b = store.new_batch(conn, "funds", "t.xlsx", "t")
        store.upsert(conn, "funds", pd.DataFrame({"unit_code": ["410183104000", "410183104000"], "year": [2023, 2024],
                                                  "balance": [60.0, 42.0], "budgeted": [50.0, 50.0],
                                                  "township_code": "410183104000"}), b)


def test_save_incident_validates_upserts_and_audits(store):
    _seed(store)
    form = {"incident_no": "SJ-1", "occurred_at": "2024-05-06 09:30", "grade": "较大", "headcount": 35,
            "project_code": "XM-1", "lon": SITE[0], "lat": SITE[1], "address": "工地门口"}
    row = svc.save_incident(form, "值班员", s=store)
    assert row["created"] and row["township_code"] == "410183104000"
    row = svc.save_incident({**form, "status": "已平息"}, "值班员", s=store)
    assert not row["created"]
    it = svc.incident("SJ-1", s=store)
    assert it["status"] == "已平息" and it["headcount"] == 35
    log = pd.DataFrame(store.read("audit_log"))
    assert log["action"].tolist()[-2:] == ["incident_create", "incident_update"]
    with pytest.raises(IncidentInputError):
        svc.save_incident({**form, "grade": "严重"}, "值班员", s=store)
    with pytest.raises(IncidentInputError, match="辖区"):
        svc.save_incident(form, "某镇", scope=["410183001000"], s=store)


def test_response_steps_are_kept_with_times(store):
    _seed(store)
    svc.save_incident({"incident_no": "SJ-2", "occurred_at": "2024-05-06 09:30", "grade": "重大", "lon": SITE[0],
                       "lat": SITE[1]}, "u", s=store)
    svc.record_step("SJ-2", "receive", "值班员", s=store)
    svc.record_step("SJ-2", "first_on_site", "值班员", s=store)
    svc.record_step("SJ-2", "first_on_site", "值班员", done=False, s=store)
    it, table = svc.response_table("SJ-2", s=store)
    t = table.set_index("key")
    assert pd.notna(t.loc["receive", "done_at"]) and t.loc["receive", "user_name"] == "值班员"
    assert pd.isna(t.loc["first_on_site", "done_at"])
    assert "fund_advance" in t.index  # (二十四) for 重大
    steps = pd.DataFrame(store.read("incident_responses"))
    assert len(steps) == 3 and set(steps["township_code"]) == {"410183104000"}


def test_context_contacts_fund_and_masking(store):
    _seed(store)
    site = {"kind": "place", "key": "黄固寺村", "township_code": "410183104000"}
    ctx = svc.site_context(site, s=store, nearest_project="XM-1")
    roles = {c["role"]: c for c in ctx["contacts"]}
    assert roles["劳资专管员"]["name"] == "李专管" and roles["劳资专管员"]["phone"] == "13700003333"
    assert ctx["fund"]["year"] == 2024 and ctx["fund"]["balance"] == 42.0 and ctx["fund"]["below_floor"]
    masked = svc.site_context(site, s=store, nearest_project="XM-1", personal=False)
    assert {c["role"]: c for c in masked["contacts"]}["劳资专管员"]["phone"] == "137****3333"


def test_search_and_nearby_through_the_service(store):
    _seed(store)
    svc._CACHE.clear()
    r = svc.search("金水湾", s=store)
    assert r.sites[0].key == "XM-1"
    cached = {k[0] for k in svc._CACHE}
    assert cached == ({"search_base"} if store.kind == "postgis" else {"index"})  # PostGIS: each search in SQL
    near = svc.nearby(SITE[0], SITE[1], 1.0, s=store)
    assert near.rows["key"].tolist() == ["XM-1"] and near.total == 1 and near.summary["projects"] == 1
    assert svc.nearby(SITE[0], SITE[1], 1.0, s=store, personal=False).rows["key"].tolist() == ["XM-1"]


def test_amap_link_uses_gcj02_and_escapes_the_name():
    url = svc.amap_link(113.411505, 34.429912, "工地 & <门口>")
    assert url.startswith("https://uri.amap.com/marker?position=113.411505,34.429912&name=")
    assert "coordinate=gaode" in url and "<" not in url and "&门" not in url
