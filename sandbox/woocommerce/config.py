"""How one sandbox store is set up; the demo keys live here and nowhere else."""
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from embedded.demo_catalog import CURRENCY

KeyPermissions = Literal["read", "write", "read_write"]


class ApiKey(BaseModel):
    """A WooCommerce REST key; every key acts as the shop manager (user 1)."""

    consumer_key: str
    consumer_secret: str
    permissions: KeyPermissions = "read_write"


DEMO_KEY = ApiKey(
    consumer_key="ck_7d1f0a5e9c3b48f2a6d4e8b1c0f9a7e3d5b2c4a6",
    consumer_secret="cs_2b8e4f6a0c9d13e7f5a2b6c8d0e4f1a3b7c9d2e5",
)
DEMO_READ_ONLY_KEY = ApiKey(
    consumer_key="ck_0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b",
    consumer_secret="cs_9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6",
    permissions="read",
)


class PaymentGateway(BaseModel):
    """A payment method the store has installed; `refunds` = it supports automatic refunds (`api_refund`)."""

    title: str
    refunds: bool = True


DEFAULT_GATEWAYS = {
    "stripe": PaymentGateway(title="Credit card (Stripe)"),
    "paypal": PaymentGateway(title="PayPal"),
    "bacs": PaymentGateway(title="Direct bank transfer", refunds=False),
    "cheque": PaymentGateway(title="Check payments", refunds=False),
    "cod": PaymentGateway(title="Cash on delivery", refunds=False),
}


class SandboxConfig(BaseModel):
    """`home_url` is the store URL as WordPress knows it (OAuth base strings, links, webhook source).

    None means "the URL actually served". A literal `{port}` is replaced by the bound port, so a test can
    run plain http yet have the store believe it is `https://127.0.0.1:{port}` (Basic auth then works).
    """

    home_url: str | None = None
    port: int = Field(default=0, ge=0, le=65535)
    timezone: str = "Europe/Paris"
    currency: str = CURRENCY
    api_keys: list[ApiKey] = [DEMO_KEY, DEMO_READ_ONLY_KEY]
    seed_catalogue: bool = True
    gateways: dict[str, PaymentGateway] = DEFAULT_GATEWAYS
    """Keyed by the order's `payment_method`; a method not listed here "does not exist" for refunds."""
    webhook_delay_s: float = Field(default=0.2, ge=0)
    batch_limit: int = Field(default=100, ge=1)
    """Items one batch request accepts (filter `woocommerce_rest_batch_items_limit`); `/__sandbox/batch-limit`
    changes it while the store runs."""
    state_file: Path | None = None
    """Where the store keeps its data between runs, as a real store's database does (ids keep growing)."""
    generation: Literal[10, 7] = 10
    """Which real WooCommerce it answers like where they differ: 10.x (today's) or 7.9 (see README.md)."""

    def resolved_home_url(self, port: int) -> str:
        url = self.home_url or "http://127.0.0.1:{port}"
        return url.replace("{port}", str(port)).rstrip("/")
