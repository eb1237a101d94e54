"""One settings object: database, basemap and every rule parameter from the policy.

Precedence: argument > environment (WAGEMAP_*) > file (wagemap.toml / .env) > default.
Rule parameters default to the values of 新密政办文〔2018〕14号; each cites its clause.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


class Rules(BaseModel):
    """Rule parameters; defaults from the 2018 policy."""

    filing_within_days: int = Field(31, ge=0, description="(二) 用工备案: 开工后多少天内备案")
    real_name_min: float = Field(0.95, ge=0, le=1, description="(三) 实名制登记率下限")
    card_min: float = Field(0.95, ge=0, le=1, description="(三) 一卡通发放率下限")
    deposit_rate_normal: float = Field(0.02, ge=0, le=1, description="(九) 工资保证金缴存比例（合同价款）")
    deposit_rate_raised: float = Field(0.03, ge=0, le=1, description="(九) 发生过拖欠且已处理：提高后的比例")
    deposit_rate_full: float = Field(0.05, ge=0, le=1, description="(九) 仍存在拖欠：全额缴存比例")
    deposit_exempt_years: int = Field(2, ge=0, description="(九) 连续多少年无拖欠可减免")
    fund_floor_city: float = Field(200.0, ge=0, description="(十) 市级应急周转金下限（万元）")
    fund_floor_township: float = Field(50.0, ge=0, description="(十) 乡镇/街道/管委会应急周转金下限（万元）")
    min_wage_monthly_yuan: float = Field(1900.0, ge=0, description="月最低工资标准（元），河南一类区参考值")
    indicator_drop: float = Field(0.30, ge=0, le=1, description="(八) 指标较自身历史下降多少视为预警")
    incident_grades: tuple[str, ...] = ("一般", "较大", "重大", "特别重大")


class Assessment(BaseModel):
    """(三十二)(三十三) 年度考核指标权重 (sum need not be 1; scores are normalised)."""

    real_name: float = 15
    special_account: float = 15
    deposit: float = 15
    bank_payroll: float = 10
    notice_board: float = 5
    fund_at_floor: float = 10
    case_closure: float = 15
    days_to_close: float = 5
    incidents_handled: float = 5
    arrears_per_project: float = 5


class Settings(BaseSettings):
    """wagemap settings. Validated at start-up; errors name the setting."""

    model_config = SettingsConfigDict(
        env_prefix="WAGEMAP_", env_nested_delimiter="__", env_file=".env", toml_file="wagemap.toml", extra="ignore"
    )

    db: str = Field("var/wagemap.gpkg", description="数据库：postgresql+psycopg://… 或 *.gpkg 路径")
    basemap: Literal["none", "tianditu", "amap", "osm"] = "none"
    tianditu_key: str = ""
    amap_key: str = ""
    secret_key: str = Field("", description="会话签名密钥；为空时每次启动随机生成")
    geocoder: Literal["offline", "tianditu", "amap"] = "offline"
    h3_resolution: int = Field(8, ge=5, le=10)
    max_points_per_layer: int = Field(5000, ge=100)
    rules: Rules = Rules()
    assessment: Assessment = Assessment()

    @field_validator("db")
    @classmethod
    def _db_kind(cls, v: str) -> str:
        if not (v.startswith("postgresql") or v.endswith(".gpkg")):
            raise ValueError("WAGEMAP_DB 须为 postgresql+psycopg://… 或以 .gpkg 结尾的路径")
        return v

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, TomlConfigSettingsSource(settings_cls))


class SettingsError(Exception):
    """A setting is invalid; the message names it."""


def load_settings(**overrides) -> Settings:
    """Build and validate the settings, raising SettingsError naming the bad setting."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        lines = [f"设置 {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise SettingsError("; ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (environment and files read once)."""
    return load_settings()


def var_dir() -> Path:
    p = Path("var")
    p.mkdir(exist_ok=True)
    return p
