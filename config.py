"""Typed configuration, read once at process start.

Sources, highest first: environment (`RETAIL_SYNC_...`, nested with `__`), then a
TOML file named by `RETAIL_SYNC_CONFIG` (default `retail-sync.toml`). The file must exist
and say something, unless the environment configures the stores (`RETAIL_SYNC_STORES`).
Secrets are `SecretStr`: they print as `**********` and never reach workflow history,
because workflows and activities only ever pass a store id.
"""
import os
import tomllib
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from canonical.sale_amounts import AmountsPolicy


class TemporalSettings(BaseModel):
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "retail-sync-orders"


class StockSource(StrEnum):
    ERP = "erp"
    THREEPL = "3pl"


class StoreStockPolicy(BaseModel):
    """How much of the shared stock one store may sell (see canonical/available_to_sell.py)."""

    source: StockSource = StockSource.ERP
    """ERP: forecast quantity of `warehouses`; 3PL: fulfillable units at `fulfilment_centers`."""
    warehouses: list[str] = ["WH"]
    fulfilment_centers: list[str] = []
    """3PL centre ids counted for this store; empty: every centre."""
    safety_stock: int = Field(default=0, ge=0)
    allocation_share: Decimal = Field(default=Decimal(1), gt=0, le=1)


class StoreSettings(BaseModel):
    """One WooCommerce store. `url` is the store's home URL exactly as WordPress knows it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    url: str
    consumer_key: SecretStr
    consumer_secret: SecretStr
    webhook_secret: SecretStr
    requests_per_second: float = 5.0
    burst: int = 5
    timeout_s: float = 60.0
    request_lifetime_s: float = Field(default=300.0, gt=0)
    """How long the store may go on working on a request whose answer we lost (PHP waiting on a payment
    gateway, whose HTTP calls WooCommerce gateways allow about 70 s): until then a lost refund is looked for
    again; after it, a person decides."""
    batch_limit: int = Field(default=100, ge=1)
    """Items one batch call may carry: the store's `woocommerce_rest_batch_items_limit` (WooCommerce's default 100)."""
    stock: StoreStockPolicy = StoreStockPolicy()
    price_list: str | None = None
    """The ERP price list whose price, when lower than the list price, is the store's sale price."""
    price_decimals: int = Field(default=2, ge=0, le=4)
    """Decimals the store keeps for prices (WooCommerce → Settings → General → Number of decimals)."""
    catalog_descriptions: bool = False
    """Descriptions come from the ERP; by default the store owns them (and always its images)."""
    erp_amounts: AmountsPolicy = AmountsPolicy()
    """Whether an ERP sale off by rounding from the order is settled by an adjustment line or parks."""


class ErpSettings(BaseModel):
    url: str = "http://127.0.0.1:8000"
    database: str = "retailsync"
    user: str = "integration"
    password: SecretStr = SecretStr("integration-pass-123")
    web_shop: str = "retail-sync"
    shipping_product_code: str = "SHIPPING"
    fee_product_code: str = "FEE"
    adjustment_product_code: str = "ADJUSTMENT"
    """The service product of the line settling a rounding difference (a store's `erp_amounts.tolerance`)."""
    timeout_s: float = 60.0
    """Longest wait for one call; Tryton gives up on a step sooner (45 s, `adapters/tryton_module/common.py`)."""
    max_sale_lines: int = Field(default=100, ge=1)
    """Lines one sale may have; an order with more parks with its size. A step holds the ERP's write lock while it
    runs, and posting and paying the invoice of 100 lines took 8.5 s here (200: 17.6 s, 400: 31.6 s, near Tryton's
    45 s limit for a step), so at 100 no order keeps the others waiting much longer than SQLite's 5 s."""


class ThreePLSettings(BaseModel):
    """The 3PL warehouse network (ShipBob API 2026-01)."""

    url: str = "http://127.0.0.1:8091"
    api_version: str = "2026-01"
    token: SecretStr = SecretStr("")
    channel_id: str = ""
    webhook_secret: SecretStr = SecretStr("")
    requests_per_minute: int = 150
    timeout_s: float = 60.0


class OrderPolicy(BaseModel):
    """Business timing and routing of the order workflow; passed into each run so it stays deterministic."""

    payment_window: timedelta = timedelta(days=7)
    fulfilment_sla: timedelta = timedelta(days=3)
    shipment_poll_interval: timedelta = timedelta(hours=1)
    route_by_stock: bool = False
    """False: `center_by_sku` (then the 3PL's choice); True: by the 3PL's fulfillable stock per centre."""
    center_by_sku: dict[str, str] = {}
    intake_every: timedelta = timedelta(minutes=5)
    """How often each store's intake backstop looks for orders no webhook brought."""


class ReturnPolicy(BaseModel):
    """The retailer's returns rules; passed into each return run so it stays deterministic."""

    window: timedelta = timedelta(days=30)
    """How long after payment a customer may ask for a return."""
    approval_above: Decimal = Decimal("200")
    """Returns worth more than this (tax included) wait for an operator's approval."""
    receive_window: timedelta = timedelta(days=30)
    poll_interval: timedelta = timedelta(hours=6)
    refund_payment: bool = True
    """Refund through the store's payment gateway (False: record the refund, money moves elsewhere)."""
    credit_note_retry_every: timedelta = timedelta(minutes=15)
    """A refund made before the sale's invoice is posted (before everything shipped) waits for it; how often
    its credit note asks the ERP again."""


class InventoryPolicy(BaseModel):
    """How often stock and catalogue are compared and published; passed into the sync runs."""

    poll_interval: timedelta = timedelta(seconds=2)
    """How often the ERP stock watch asks which SKUs moved (one poll for every store)."""
    threepl_poll_interval: timedelta = timedelta(minutes=1)
    """For stores selling the 3PL's stock: reading it costs the 3PL's shared request budget."""
    reconcile_every: timedelta = timedelta(hours=6)
    catalog_every: timedelta = timedelta(minutes=1)
    """How often each store asks the ERP which products changed (a cheap query when none did)."""
    cycles_per_run: int = Field(default=500, ge=1)
    """Polls before the ERP stock watch continues as new, keeping its history short."""


class StarterSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080  # a port WordPress delivers webhooks to (80, 443, 8080), and needs no privileges
    max_body_bytes: int = 1_048_576
    body_read_timeout_s: float = 10.0
    """A client still sending its body after this long is answered 408 and its connection closed."""
    returns_api_token: SecretStr = SecretStr("")
    """Bearer token a returns portal sends to `POST /returns`; empty disables the endpoint."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RETAIL_SYNC_", env_nested_delimiter="__", extra="forbid")

    temporal: TemporalSettings = TemporalSettings()
    stores: list[StoreSettings] = []
    erp: ErpSettings = ErpSettings()
    threepl: ThreePLSettings = ThreePLSettings()
    orders: OrderPolicy = OrderPolicy()
    returns: ReturnPolicy = ReturnPolicy()
    inventory: InventoryPolicy = InventoryPolicy()
    starter: StarterSettings = StarterSettings()

    def store(self, store_id: str) -> StoreSettings | None:
        return next((s for s in self.stores if s.id == store_id), None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_path()))


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and what is wrong with it."""


def config_path() -> Path:
    return Path(os.environ.get("RETAIL_SYNC_CONFIG", "retail-sync.toml"))


def load_settings() -> Settings:
    """The settings, or a ConfigError naming the file: a missing, unreadable, empty or invalid config would
    otherwise run with defaults (no stores, no 3PL token) and do nothing, or the wrong thing, in silence."""
    path = config_path()
    where = path.absolute()
    if path.exists() or "RETAIL_SYNC_CONFIG" in os.environ or "RETAIL_SYNC_STORES" not in os.environ:
        try:
            content = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{where}: no such config file (set RETAIL_SYNC_CONFIG to yours; "
                              "the README's Configuration section shows one)") from None  # fmt: skip
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{where}: cannot be read ({err})") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{where}: not valid TOML ({err})") from None
        if not content:
            raise ConfigError(f"{where}: the config file is empty (the README's Configuration section shows one)")
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:3])
        more = f" (and {err.error_count() - 3} more)" if err.error_count() > 3 else ""
        raise ConfigError(f"{where}: {problems}{more}") from None
