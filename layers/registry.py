"""The one list of map layers: the dashboard builds its switcher from it, exports iterate over it.

A new layer is one module exposing objects that follow layers/base.Layer, plus one line in
`_ALL` below (like pygeoapi's PLUGINS). Order here is the order of the switcher.
"""

from __future__ import annotations

from layers import (
    arrears,
    assessment,  # issue 5
    coverage,
    credit,  # issue 5
    deposits,  # issue 5
    funds,  # issue 5
    incidents,  # issue 7
    risk,  # issue 5
    rules,  # issue 5
)
from layers.base import Layer

KIND_ZH = {
    "arrears": "欠薪情况",
    "coverage": "长效机制落实",
    "risk": "风险预警",
    "incident": "突发事件",
    "assessment": "年度考核",
}

_ALL: list[Layer] = [
    *arrears.LAYERS.values(),  # 欠薪金额 / 在办欠薪案件 / 欠薪涉及人数
    *coverage.LAYERS.values(),  # 实名制 一卡通 专户 保证金 银行代发 月结月清 公示牌 用工备案 劳资专管员
    rules.LAYER,  # 欠薪预警
    risk.LAYER,  # 欠薪风险热力（合计）
    risk.DENSITY_LAYER,  # 欠薪风险密度
    credit.LAYER,  # 黑名单及C/D级单位
    deposits.LAYER,  # 工资保证金按规缴存率 (九)
    funds.LAYER,  # 欠薪应急周转金 (十)
    assessment.LAYER,  # 年度考核得分
    incidents.LAYER,  # 欠薪突发事件 (二十三)
]

DEFAULT = "arrears"


class UnknownLayer(KeyError):
    """A layer key that is not registered; the message (Chinese) lists the valid keys."""

    def __init__(self, key: str):
        self.key = key
        self.user_msg = f"未知图层“{key}”；可用图层：" + "、".join(f"{k}（{v.title}）" for k, v in LAYERS.items())
        super().__init__(self.user_msg)

    def __str__(self) -> str:
        return self.user_msg


def _index(layers: list[Layer]) -> dict[str, Layer]:
    out: dict[str, Layer] = {}
    for layer in layers:
        for attr in ("key", "title", "kind", "higher_is_better", "build", "export_folium"):
            if not hasattr(layer, attr):
                raise TypeError(f"layer {layer!r} lacks {attr!r} (see layers/base.Layer)")
        if layer.key in out:
            raise ValueError(f"layer key {layer.key!r} registered twice")
        out[layer.key] = layer
    return out


LAYERS: dict[str, Layer] = _index(_ALL)


def get(key: str | None) -> Layer:
    """The layer for a key (None -> the default layer); UnknownLayer names the valid keys."""
    k = key or DEFAULT
    try:
        return LAYERS[k]
    except KeyError:
        raise UnknownLayer(k) from None


def by_kind(kind: str) -> list[Layer]:
    """Layers of one kind ("coverage", "arrears", ...), in switcher order."""
    return [layer for layer in LAYERS.values() if layer.kind == kind]


def kinds() -> list[str]:
    """The kinds present, in switcher order."""
    seen: list[str] = []
    for layer in LAYERS.values():
        if layer.kind not in seen:
            seen.append(layer.kind)
    return seen


def options() -> list[dict[str, str]]:
    """Switcher options grouped by kind: [{"label": "欠薪情况 · 欠薪金额", "value": "arrears", "kind": ...}]."""
    return [
        {"label": f"{KIND_ZH.get(layer.kind, layer.kind)} · {layer.title}", "value": layer.key, "kind": layer.kind}
        for kind in kinds() for layer in by_kind(kind)
    ]
