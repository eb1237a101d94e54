"""The command line contract (DESIGN §6): names and basic behaviour."""

import subprocess
import sys

from typer.testing import CliRunner

from dashboard.cli import app

runner = CliRunner()


def test_help_lists_the_whole_contract():
    out = runner.invoke(app, ["--help"], terminal_width=200).output
    for cmd in ["db init", "demo", "etl load", "geodata import-boundaries", "serve", "export map", "export assessment",
                "users add", "search", "--radius-km", "--allow-missing", "--report", "--crs", "--map", "--scale"]:
        assert cmd in out, cmd


def test_db_init_creates_the_embedded_store_with_19_units(tmp_path):
    db = tmp_path / "w.gpkg"
    r = subprocess.run([sys.executable, "-m", "dashboard.cli", "db", "init", "--db", str(db)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "19" in r.stderr and "示意边界" in r.stderr
    from geodata.store import open_store

    assert len(open_store(str(db)).townships()) == 19


def test_bad_database_setting_is_named(tmp_path):
    r = subprocess.run([sys.executable, "-m", "dashboard.cli", "db", "init", "--db", str(tmp_path / "x.sqlite")],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "WAGEMAP_DB" in r.stderr and "x.sqlite" in r.stderr


def test_serve_with_an_unusable_cache_dir_fails_before_starting_workers(tmp_path):
    import os

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    env = {**os.environ, "WAGEMAP_CACHE_DIR": str(blocker / "cache")}
    r = subprocess.run([sys.executable, "-m", "dashboard.cli", "serve", "--db", str(tmp_path / "w.gpkg"), "--port", "8699"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    assert "视图缓存目录不可用" in r.stderr and "WAGEMAP_CACHE_DIR" in r.stderr and "看板地址" not in r.stdout + r.stderr
