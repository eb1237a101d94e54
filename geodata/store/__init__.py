"""The store: one interface over PostGIS (system of record) and an embedded GeoPackage.

    store = open_store()            # settings.db: "postgresql+psycopg://…" or a path ending .gpkg
    store.init()                    # create or migrate; demo boundaries when there are none

The rest of the code never knows which backend it has.
"""

from __future__ import annotations

from functools import lru_cache

from geodata.settings import get_settings
from geodata.store.base import Store, StoreError


def open_store(url: str | None = None, init: bool = True) -> Store:
    """Return the (cached) store for `url` (default: the settings' db), created on first use."""
    return _open(url or get_settings().db, init)


@lru_cache(maxsize=8)
def _open(url: str, init: bool) -> Store:
    if url.startswith("postgresql"):
        from geodata.store.postgis import PostgisStore

        store: Store = PostgisStore(url)
    elif url.endswith(".gpkg"):
        from geodata.store.gpkg import GeoPackageStore

        store = GeoPackageStore(url)
    else:
        raise StoreError(f"unknown database url {url!r}",
                         f"设置 db（--db / WAGEMAP_DB）无效：{url!r}；须为 postgresql+psycopg://… 或以 .gpkg 结尾的文件路径")
    if init:
        store.init()
    return store


__all__ = ["Store", "StoreError", "open_store"]
