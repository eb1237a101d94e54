"""The PostGIS radius panel (layers/nearby.nearest_select on the x/y columns of migration 0006) against a
straightforward computation on the small demo loaded by the real ETL.

The reference measures every site with ST_DWithin / ST_Distance of ST_Transform(geom, 4547) (no box, no
x/y column) and sums the open cases of each site with a GROUP BY; the panel must give the same sites,
distances, per-site totals and totals, for every radius, with and without a township scope. A second check
compares with geodesic (geography) distances: EPSG:4547 differs from them by a scale factor of a few
parts in 100,000 here, so only sites that close to the circle may differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from layers import nearby as nb

OPEN = ("c.closed_date IS NULL AND coalesce(btrim(c.status), '') NOT IN "
        "('closed', '办结', '已办结', '已结案', '结案')")

def reference(store, lon: float, lat: float, radius_km: float, scope=None) -> pd.DataFrame:
    """Every site within the radius, nearest first, with its open cases: the plain way."""
    sql = f"""
    WITH here AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 4547) AS h),
    sites AS (
      SELECT 'project' AS kind, project_code AS key, name, address, township_code, lon, lat,
             ST_Distance(ST_Transform(geom, 4547), h) AS d
      FROM projects, here WHERE ST_DWithin(ST_Transform(geom, 4547), h, :r)
      UNION ALL
      SELECT 'enterprise', credit_code, name, address, township_code, lon, lat, ST_Distance(ST_Transform(geom, 4547), h)
      FROM enterprises, here WHERE ST_DWithin(ST_Transform(geom, 4547), h, :r)),
    per_site AS (
      SELECT 'project' AS kind, project_code AS key, count(*) AS n, sum(workers) AS w,
             sum(amount - coalesce(recovered, 0)) AS a FROM cases c WHERE {OPEN} GROUP BY project_code
      UNION ALL
      SELECT 'enterprise', credit_code, count(*), sum(workers), sum(amount - coalesce(recovered, 0))
      FROM cases c WHERE {OPEN} GROUP BY credit_code)
    SELECT s.kind, s.key, s.name, s.address, s.township_code, s.lon, s.lat, s.d,
           coalesce(o.n, 0) AS open_cases, coalesce(o.w, 0) AS workers, coalesce(o.a, 0) AS amount_owed
    FROM sites s LEFT JOIN per_site o ON o.kind = s.kind AND o.key = s.key
    ORDER BY round(s.d::numeric, 1), s.kind, s.d, s.key"""
    with store.begin(scope) as conn:  # row-level security alone limits the reference to the scope
        res = conn.execute(sa.text(sql), {"lon": lon, "lat": lat, "r": radius_km * 1000.0})
        df = pd.DataFrame(res.all(), columns=list(res.keys()))
    df["distance_m"] = df.pop("d").astype(float).round(1)
    return df


@pytest.fixture(scope="module")
def demo_pg(pg_url, tmp_path_factory):
    """The small demo scenario through the real ETL into PostGIS (migrations up to 0006)."""
    from geodata.store import open_store
    from tests.conftest import _empty
    from tests.dashboard.conftest import load_small_demo

    store = open_store(pg_url)
    _empty(store)
    load_small_demo(store, tmp_path_factory.mktemp("demo") / "files")
    return store


def _centres(store, n: int = 6) -> list[tuple[float, float]]:
    p = store.read("projects", columns=["project_code", "lon", "lat"]).dropna(subset=["lon", "lat"])
    p = p.sort_values("project_code")
    rng = np.random.default_rng(3)
    pts = p[["lon", "lat"]].to_numpy()[rng.integers(0, len(p), n)]
    return [(float(x), float(y)) for x, y in pts] + [(float(x) + 0.003, float(y) - 0.002) for x, y in pts[:2]]


@pytest.mark.parametrize("radius_km", nb.RADIUS_CHOICES_KM)
def test_radius_panel_equals_the_plain_computation(demo_pg, radius_km):
    towns = sorted(demo_pg.read("projects", columns=["township_code"])["township_code"].dropna().unique())
    checked, biggest = 0, 0
    for i, (lon, lat) in enumerate(_centres(demo_pg)):
        for scope in (None, [towns[i % len(towns)]]):
            ref = reference(demo_pg, lon, lat, radius_km, scope)
            for limit in (nb.NEAREST, 5):
                got = nb.fetch_nearby(demo_pg, lon, lat, radius_km=radius_km, scope=scope, limit=limit)
                assert got.total == len(ref)
                want = ref.head(limit)
                assert got.rows["key"].tolist() == want["key"].tolist()
                assert got.rows["kind"].tolist() == want["kind"].tolist()
                assert got.rows["distance_m"].tolist() == want["distance_m"].tolist()
                assert got.rows["township_code"].tolist() == want["township_code"].tolist()
                assert got.rows["name"].tolist() == want["name"].tolist()
                assert got.rows["open_cases"].tolist() == want["open_cases"].astype(int).tolist()
                assert got.rows["workers"].tolist() == want["workers"].astype(int).tolist()
                assert got.rows["amount_owed"].tolist() == want["amount_owed"].astype(float).round(2).tolist()
                assert got.summary == {
                    "projects": int((ref["kind"] == "project").sum()), "enterprises": int((ref["kind"] == "enterprise").sum()),
                    "open_cases": int(ref["open_cases"].sum()), "workers": int(ref["workers"].sum()),
                    "amount_owed": round(float(ref["amount_owed"].astype(float).sum()), 2)}
                if scope is not None:
                    assert set(got.rows["township_code"]) <= set(scope)
            checked, biggest = checked + len(ref), max(biggest, len(ref))
    assert checked > 0  # the centres are project sites: every radius finds some
    if radius_km == max(nb.RADIUS_CHOICES_KM):
        assert biggest > nb.NEAREST  # the panel's cut to the nearest rows is exercised


def test_radius_agrees_with_geodesic_distances(demo_pg):
    """EPSG:4547 vs geography: a site clearly inside (outside) the geodesic circle is (is not) listed."""
    lon, lat = _centres(demo_pg)[0]
    with demo_pg.begin() as conn:
        geo = pd.DataFrame(conn.execute(sa.text("""
            SELECT project_code AS key, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS g
            FROM projects WHERE geom IS NOT NULL"""), {"lon": lon, "lat": lat}).all(), columns=["key", "g"])
    for km in nb.RADIUS_CHOICES_KM:
        got = set(nb.fetch_nearby(demo_pg, lon, lat, radius_km=km, limit=10_000).rows.query("kind == 'project'")["key"])
        r = km * 1000.0
        assert set(geo.loc[geo["g"] <= r * (1 - 1e-4), "key"]) <= got
        assert not got & set(geo.loc[geo["g"] > r * (1 + 1e-4), "key"])


def test_xy_columns_are_the_transformed_points_for_every_writer(demo_pg):
    """Migration 0006's generated x/y: filled by the ETL load, followed by an upsert that moves a point."""
    with demo_pg.begin() as conn:
        for t in ("projects", "enterprises", "cases", "incidents"):
            n, filled, off = conn.execute(sa.text(
                "SELECT count(geom), count(x), max(abs(x - ST_X(ST_Transform(geom, 4547))) "
                f"+ abs(y - ST_Y(ST_Transform(geom, 4547)))) FROM {t}")).one()
            assert n == filled and (off or 0.0) == 0.0, t
    p = demo_pg.read("projects", columns=["project_code", "name", "township_code", "lon", "lat"]).iloc[[0]]
    moved = pd.DataFrame(p).drop(columns=["geometry"]).assign(lon=p["lon"] + 0.01)
    key = {"k": moved["project_code"].iloc[0]}
    with demo_pg.begin() as conn:
        before = conn.execute(sa.text("SELECT x FROM projects WHERE project_code = :k"), key).scalar()
        demo_pg.upsert(conn, "projects", moved, demo_pg.new_batch(conn, "projects", "moved.xlsx", "t"))
        x, want = conn.execute(sa.text("SELECT x, ST_X(ST_Transform(geom, 4547)) FROM projects WHERE project_code = :k"),
                               key).one()
    assert x == want and x > before + 800  # 0.01° of longitude is ~900 m here


def test_radius_indexes_serve_under_row_level_security(demo_pg):
    """The covering x/y btree and the open-case index are read behind FORCE ROW LEVEL SECURITY, and a
    township's transaction sees only its own sites through them (no township filter in the query)."""
    town = sorted(demo_pg.read("projects", columns=["township_code"])["township_code"].dropna().unique())[0]
    lon, lat = _centres(demo_pg)[0]
    with demo_pg.begin([town]) as conn:
        x0, y0 = nb.centre(conn, lon, lat)
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        c = nb.nearest_select(x0, y0, 5000.0).compile(conn, compile_kwargs={"render_postcompile": True})
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(c), c.params))
        seen = conn.execute(sa.text("SELECT DISTINCT township_code FROM projects WHERE x BETWEEN :a AND :b"),
                            {"a": x0 - 5000, "b": x0 + 5000}).scalars().all()
    assert "ix_projects_xy" in plan and "ix_enterprises_xy" in plan and "ix_cases_open" in plan
    assert seen == [town]


@pytest.fixture(scope="module")
def demo_gpkg(tmp_path_factory):
    """The small demo scenario through the real ETL into a GeoPackage."""
    from geodata.store import open_store
    from tests.dashboard.conftest import load_small_demo

    out = tmp_path_factory.mktemp("demo_gpkg")
    store = open_store(str(out / "demo.gpkg"))
    load_small_demo(store, out / "files")
    return store


def test_geopackage_sites_read_once_give_the_same_panel(demo_gpkg):
    """GeoPackage: the panel from the scope's sites and case totals read once (`load_sites`, cached per data
    version by the emergency service) equals the panel from the box and its cases read per call."""
    towns = sorted(demo_gpkg.read("projects", columns=["township_code"])["township_code"].dropna().unique())
    biggest = 0
    for scope in (None, [towns[0]], towns[1:3]):
        sites = nb.load_sites(demo_gpkg, scope)
        for i, (lon, lat) in enumerate(_centres(demo_gpkg)):
            for km in nb.RADIUS_CHOICES_KM:
                limit = nb.NEAREST if i % 2 else 5
                want = nb.fetch_nearby(demo_gpkg, lon, lat, radius_km=km, scope=scope, limit=limit)
                got = nb.fetch_nearby(demo_gpkg, lon, lat, radius_km=km, scope=scope, limit=limit, sites=sites)
                assert (got.total, got.summary) == (want.total, want.summary)
                biggest = max(biggest, got.total)
                pd.testing.assert_frame_equal(got.rows, want.rows, check_dtype=False)  # per call: object when no case
    assert biggest > nb.NEAREST  # the cut to the nearest rows is exercised
