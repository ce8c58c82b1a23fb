"""The retailer's language: models every external system maps to and from."""
from canonical.money import Money
from canonical.order import (
    Address,
    Customer,
    DiscountLine,
    FeeLine,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    RefundSummary,
    ShippingLine,
    TaxAmount,
    TaxRate,
)

__all__ = [
    "Address",
    "Customer",
    "DiscountLine",
    "FeeLine",
    "Money",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Payment",
    "RefundSummary",
    "ShippingLine",
    "TaxAmount",
    "TaxRate",
]
