"""The `wagemap` command line (DESIGN §6 — the names are a contract checked from outside)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

CONTRACT = """命令一览 (command contract):\n\n
wagemap db init\n
wagemap demo [--out DIR] [--scale city|province] [--seed N]\n
wagemap etl load FILE... [--kind KIND] [--crs wgs84|gcj02|bd09|EPSG:n] [--map 源列=field]... [--report FILE.json]\n
wagemap geodata import-boundaries FILE [--crs ...] [--map NAME_OR_CODE=CODE]... [--allow-missing]\n
wagemap serve [--host 127.0.0.1] [--port 8050]\n
wagemap warm [--follow] [--force]\n
wagemap export map --township CODE --out FILE.html\n
wagemap export assessment --year YYYY --out FILE.xlsx\n
wagemap users add NAME --role leader|township|emergency|assessor|admin [--township CODE]\n
wagemap search QUERY [--radius-km R] [--json]\n\n
数据库：--db URL 或 WAGEMAP_DB；postgresql+psycopg://… 为 PostGIS，*.gpkg 为 GeoPackage；默认 var/wagemap.gpkg。"""

app = typer.Typer(help="新密市根治欠薪“一张图” wagemap：数据入库、地图看板、应急检索与考核。", epilog=CONTRACT,
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="数据库：创建或迁移存储", no_args_is_help=True)
etl_app = typer.Typer(help="数据入库（ETL）", no_args_is_help=True)
geo_app = typer.Typer(help="地理数据：乡镇边界、地名库", no_args_is_help=True)
export_app = typer.Typer(help="导出：离线地图、考核表", no_args_is_help=True)
users_app = typer.Typer(help="用户与角色", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(etl_app, name="etl")
app.add_typer(geo_app, name="geodata")
app.add_typer(export_app, name="export")
app.add_typer(users_app, name="users")

console = Console(stderr=True)
DbOpt = typer.Option(None, "--db", envvar="WAGEMAP_DB", help="postgresql+psycopg://… 或 *.gpkg（默认 var/wagemap.gpkg）")


def fail(message: str, code: int = 2) -> None:
    """Print one Chinese line to stderr and exit with `code`."""
    console.print(f"[red]错误：[/red]{message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _store(db: str | None):
    from geodata.store import StoreError, open_store

    if db:
        os.environ["WAGEMAP_DB"] = db
    try:
        return open_store(db)
    except StoreError as e:
        fail(e.user_msg)


@db_app.command("init")
def db_init(db: Optional[str] = DbOpt) -> None:
    """创建或迁移存储（PostGIS：Alembic upgrade head；GeoPackage：建表），并载入示意边界。"""
    store = _store(db)
    t = store.townships()
    label = "（示意边界）" if store.boundaries_are_demo() else ""
    console.print(f"存储就绪：{store.kind} {store.url}，乡镇级单位 {len(t)} 个{label}")


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("demo-data"), "--out", help="输出目录"),
    scale: str = typer.Option("city", "--scale", help="city（新密规模）| province（约100倍，用于测性能）"),
    seed: Optional[int] = typer.Option(None, "--seed", help="随机种子（同种子同结果）"),
    load: bool = typer.Option(False, "--load", help="写完后按清单入库，并创建演示账号（每个角色一个）"),
    db: Optional[str] = DbOpt,
) -> None:
    """生成演示数据：各单位报送的原始表格（xlsx/GBK csv/UTF-8 csv，含常见格式问题）。"""
    if scale not in ("city", "province"):
        fail(f"--scale 须为 city 或 province，收到 {scale!r}")
    from etl.demo import write_demo

    manifest = write_demo(out, scale=scale, **({"seed": seed} if seed is not None else {}))
    for f in manifest["files"]:
        crs_note = f"  --crs {f['crs']}" if f.get("crs") not in (None, "wgs84") else ""
        console.print(f"  {f['file']}  {f['kind']}  {f['rows']} 行{crs_note}", highlight=False)
    console.print(f"演示数据已写入 {out}（清单 {out / 'manifest.json'}）")
    if load:
        _load_demo(_store(db), out, manifest)


def _load_demo(store, out: Path, manifest: dict) -> None:
    """Load the demo files as a clerk would, then create the demo accounts.

    Files go in load order of their kinds (villages, employers, projects, ... so later kinds
    find their project's township); consecutive files with the same declared CRS share a run.
    """
    from itertools import groupby

    from dashboard.users import create_demo_accounts
    from etl.kinds import LOAD_ORDER
    from etl.pipeline import load_files

    files = sorted(manifest["files"], key=lambda f: LOAD_ORDER.index(f["kind"]))
    runs = [(crs, [str(out / f["file"]) for f in grp]) for crs, grp in groupby(files, key=lambda f: f.get("crs") or "wgs84")]
    for crs, paths in runs:
        rep = load_files(store, paths, crs=crs, user="demo", progress=sys.stderr.isatty())
        for f in rep["files"]:
            console.print(f"  入库 {Path(f['file']).name}：读取 {f['rows_read']}，"
                          f"入库 {f['rows_loaded']}，拒绝 {f['rows_rejected']}",
                          highlight=False)
    console.print("演示账号（仅存在于演示库）：")
    for name, role, password in create_demo_accounts(store):
        console.print(f"  {role:<10} {name:<16} 密码 {password}", highlight=False)


@etl_app.command("load")
def etl_load(
    files: list[Path] = typer.Argument(..., help="xlsx/csv/tsv 文件"),
    kind: Optional[str] = typer.Option(None, "--kind", help="数据种类（缺省时按表头识别）"),
    crs: Optional[str] = typer.Option(None, "--crs", help="坐标系：wgs84|gcj02|bd09|EPSG:n"),
    mapping: list[str] = typer.Option([], "--map", help="列映射 源列=field，可多次"),
    report: Optional[Path] = typer.Option(None, "--report", help="JSON 报告输出路径"),
    user: str = typer.Option(os.environ.get("USER", "cli"), "--user", help="记录在批次上的操作人"),
    db: Optional[str] = DbOpt,
) -> None:
    """将各单位报送的表格入库：读取、清洗、校验、定位、归属乡镇、入库、报告。"""
    from etl.errors import UnusableInput
    from etl.pipeline import load_files

    maps: dict[str, str] = {}
    for m in mapping:
        if "=" not in m:
            fail(f"--map 须为 源列=field，收到 {m!r}")
        src, field = m.split("=", 1)
        maps[src.strip()] = field.strip()
    store = _store(db)
    try:
        result = load_files(store, [str(f) for f in files], kind=kind, crs=crs, mapping=maps or None, user=user,
                            report_path=str(report) if report else None, progress=sys.stderr.isatty())
    except UnusableInput as e:
        fail(e.user_msg)
    if report is None:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=1, default=str))


@geo_app.command("import-boundaries")
def import_boundaries(
    file: Path = typer.Argument(..., help="Shapefile(.shp/.zip)/GeoPackage/GeoJSON"),
    crs: Optional[str] = typer.Option(None, "--crs", help="文件无坐标系或有误时指定：EPSG:n 或 gcj02"),
    mapping: list[str] = typer.Option([], "--map", help="名称或代码=乡镇代码，可多次"),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="允许文件缺少部分乡镇"),
    db: Optional[str] = DbOpt,
) -> None:
    """导入官方乡镇边界（任意常见格式与坐标系），替换示意边界。"""
    from geodata.importer import BoundaryImportError, parse_mapping
    from geodata.importer import import_boundaries as do_import

    store = _store(db)
    try:
        maps = parse_mapping(mapping)
        rep = do_import(store, str(file), crs=crs, mapping=maps or None, allow_missing=allow_missing)
    except BoundaryImportError as e:
        fail(e.user_msg)
    store.audit(os.environ.get("USER", "cli"), "import_boundaries", str(file), f"{len(rep.matched)} 个单位")
    typer.echo(rep.to_text())


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8050, "--port"),
    workers: int = typer.Option(2, "--workers", help="gunicorn 工作进程数（默认 2，与本机核数相当）"),
    db: Optional[str] = DbOpt,
) -> None:
    """启动地图看板（Dash，经 gunicorn 提供服务）。"""
    store = _store(db)  # create / migrate the store once, before the workers start
    from gunicorn.app.base import BaseApplication

    from dashboard.auth import _secret_key
    from geodata.settings import get_settings

    _secret_key(store, get_settings())  # made once here, so the workers never race to create it
    if get_settings().cache_dir:  # an unusable view cache fails here, once, not in every worker gunicorn restarts
        from dashboard.cache import _open_disk
        from geodata.settings import SettingsError

        try:
            _open_disk(get_settings().cache_dir).close()
        except SettingsError as e:
            fail(str(e))

    from dashboard import warmproc

    hooks: dict = {}
    if os.environ.get("WAGEMAP_WARM", "1").strip().lower() in ("0", "false", "no", "off"):
        pass  # warm-up off: every view is built by the first worker that is asked for it
    elif get_settings().cache_dir:  # one warm process beside the workers fills the shared cache (dashboard/warmproc.py)
        os.environ["WAGEMAP_WARM"] = "0"
        hooks = warmproc.gunicorn_hooks(db, lambda m: console.print(m, highlight=False))
    else:  # no shared cache: each worker can only warm its own in-process cache
        os.environ["WAGEMAP_WARM"] = "1"

    class _Server(BaseApplication):
        def load_config(self) -> None:
            # keep-alive above users' think time (2 s default reset connections in the load test)
            for k, v in {"bind": f"{host}:{port}", "workers": workers, "timeout": 120, "keepalive": 30,
                         "accesslog": None, **hooks}.items():
                self.cfg.set(k, v)

        def load(self):
            from dashboard.wsgi import server

            return server

    console.print(f"看板地址：http://{host}:{port}/", highlight=False)
    _Server().run()


@app.command("warm")
def warm(
    follow: bool = typer.Option(False, "--follow", help="预热后继续运行：每次数据载入后再预热（wagemap serve 即如此启动）"),
    force: bool = typer.Option(False, "--force", help="即使已有进程预热过本数据版本，也再预热一次"),
    db: Optional[str] = DbOpt,
) -> None:
    """预热共享视图缓存（默认月份窗口的各图层、各乡镇页等），以较低优先级运行，不占用看板服务进程。"""
    store = _store(db)
    from dashboard import warmproc
    from dashboard.app import create_app
    from geodata.settings import get_settings

    if not get_settings().cache_dir:
        fail("未设置视图缓存目录（cache_dir，环境变量 WAGEMAP_CACHE_DIR）：独立预热进程无处存放视图；"
             "请设置该目录，或由看板进程自行预热（WAGEMAP_WARM=1）")
    warmproc.lower_priority()
    app_ = create_app(store=store)
    if follow:
        import logging
        import threading

        logging.basicConfig(level=logging.WARNING, format="%(asctime)s wagemap warm: %(message)s")
        stop = threading.Event()
        warmproc.stop_on_signals(stop)
        warmproc.follow(app_, stop)
        return
    r = warmproc.warm_once(app_, force=force)
    if r is None:
        console.print("本数据版本已由其他进程预热（或正在预热）；如需重做请加 --force", highlight=False, soft_wrap=True)
        return
    console.print(f"预热完成：数据版本 {r['version']}，{r['views']} 个视图，用时 {r['seconds']} 秒，"
                  f"释放原始数据 {r.get('released', 0)} 项", highlight=False, soft_wrap=True)
    for name, (wall, cpu) in r.get("phases", {}).items():
        console.print(f"  {name}: {wall} s / CPU {cpu} s", highlight=False, soft_wrap=True)


@export_app.command("map")
def export_map(
    township: str = typer.Option(..., "--township", help="乡镇代码（12位或9位）或名称"),
    out: Path = typer.Option(..., "--out", help="输出 HTML 文件"),
    db: Optional[str] = DbOpt,
) -> None:
    """导出某乡镇的离线单文件地图（folium，无需联网）。"""
    from geodata.townships import to_code

    code = to_code(township)
    if code is None:
        from geodata.townships import valid_names

        fail(f"乡镇 {township!r} 无法识别；可用：{valid_names()}")
    store = _store(db)
    from layers.folium_export import export_township_map

    export_township_map(store, code, str(out))
    console.print(f"已导出 {out}")


@export_app.command("assessment")
def export_assessment(
    year: int = typer.Option(..., "--year"),
    out: Path = typer.Option(..., "--out"),
    db: Optional[str] = DbOpt,
) -> None:
    """导出年度考核得分与各指标佐证（xlsx）。"""
    from layers.assessment import export_assessment_xlsx

    store = _store(db)
    export_assessment_xlsx(store, year, str(out))
    console.print(f"已导出 {out}")


@users_app.command("add")
def users_add(
    name: str = typer.Argument(...),
    role: str = typer.Option(..., "--role", help="leader|township|emergency|assessor|admin"),
    township: Optional[str] = typer.Option(None, "--township", help="township 角色的乡镇代码"),
    db: Optional[str] = DbOpt,
) -> None:
    """新增用户；密码从提示输入，非终端时从标准输入读取（从不出现在命令行）。"""
    from dashboard.users import UserError, add_user, read_password

    store = _store(db)
    try:
        add_user(store, name, role, township, read_password())
    except UserError as e:
        fail(e.user_msg)
    console.print(f"已新增用户 {name}（{role}）")


@users_app.command("disable")
def users_disable(name: str = typer.Argument(...), db: Optional[str] = DbOpt) -> None:
    """停用用户：不能再登录，已登录的会话在下一次请求时结束。"""
    from dashboard.users import UserError, disable_user

    try:
        disable_user(_store(db), name, actor=os.environ.get("USER", "cli"))
    except UserError as e:
        fail(e.user_msg)
    console.print(f"已停用用户 {name}")


@users_app.command("reset")
def users_reset(name: str = typer.Argument(...), db: Optional[str] = DbOpt) -> None:
    """重设密码（提示输入，非终端时从标准输入读取），同时解除锁定并启用。"""
    from dashboard.users import UserError, read_password, reset_password

    store = _store(db)
    try:
        reset_password(store, name, read_password(), actor=os.environ.get("USER", "cli"))
    except UserError as e:
        fail(e.user_msg)
    console.print(f"已重设用户 {name} 的密码")


@app.command("search")
def search(
    query: str = typer.Argument(..., help="事件/案件编号、项目名称或编号、单位名称或信用代码、地址、坐标"),
    radius_km: float = typer.Option(1.0, "--radius-km", help="周边半径（公里）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    db: Optional[str] = DbOpt,
) -> None:
    """应急检索：找到现场及其周边的项目、单位与欠薪情况。"""
    from layers.search import search_cli

    store = _store(db)
    result = search_cli(store, query, radius_km=radius_km)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    else:
        for i, site in enumerate(result.get("sites", []), 1):
            typer.echo(f"{i}. {site.get('label')}  WGS-84 {site.get('lon')},{site.get('lat')}  {site.get('township_code')}")
        if not result.get("sites"):
            typer.echo(result.get("message", "未找到"))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
