"""The demo catalogue, shared by the WooCommerce sandbox store and the local Tryton bootstrap.

One list so the store's SKUs and the ERP's product codes match by construction.
Prices are the store's regular prices, excluding tax.
"""
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class DemoTaxRate:
    rate_id: int
    name: str
    tax_class: str
    percent: Decimal


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    price: Decimal
    tax_class: str = ""  # WooCommerce's "standard" class is the empty string
    stock: int = 100
    parent_sku: str | None = None  # set for a variation of a variable product


CURRENCY = "EUR"

TAX_RATES = (
    DemoTaxRate(rate_id=1, name="VAT 20%", tax_class="", percent=Decimal("20.0000")),
    DemoTaxRate(rate_id=2, name="VAT 5.5%", tax_class="reduced-rate", percent=Decimal("5.5000")),
)

VARIABLE_PARENTS = {"HOODIE": "Organic Hoodie"}

PRODUCTS = (
    DemoProduct("TEE-CLASSIC", "Classic Tee", Decimal("20.00")),
    DemoProduct("MUG-CERAMIC", "Ceramic Mug", Decimal("12.50")),
    DemoProduct("BOOK-COFFEE", "The Coffee Book", Decimal("30.00"), tax_class="reduced-rate"),
    DemoProduct("HOODIE-S", "Organic Hoodie - S", Decimal("45.00"), parent_sku="HOODIE"),
    DemoProduct("HOODIE-M", "Organic Hoodie - M", Decimal("45.00"), parent_sku="HOODIE"),
)

# Service products the ERP uses for the store's shipping and fee lines, and for the adjustment line that
# settles a rounding difference between the store's amounts and the ERP's (canonical/sale_amounts.py).
SHIPPING_SKU = "SHIPPING"
FEE_SKU = "FEE"
ADJUSTMENT_SKU = "ADJUSTMENT"
