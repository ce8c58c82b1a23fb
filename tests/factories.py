"""Canonical orders for tests that do not go through a store."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from canonical import Address, Customer, Money, Order, OrderLine, OrderStatus, Payment

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def eur(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="EUR")


def canonical_order(
    order_id: str = "1001",
    *,
    store_id: str = "test-store",
    status: OrderStatus = OrderStatus.PAID,
    minutes_later: int = 0,
    sku: str = "TEE-CLASSIC",
) -> Order:
    modified = T0 + timedelta(minutes=minutes_later)
    paid = status in (OrderStatus.PAID, OrderStatus.COMPLETED)
    address = Address(first_name="Zoë", last_name="Müller", street="1 Rue de la Paix", city="Paris",
                      postal_code="75002", country="FR")  # fmt: skip
    return Order(
        store_id=store_id,
        order_id=order_id,
        number=order_id,
        status=status,
        store_status={OrderStatus.PAID: "processing", OrderStatus.AWAITING_PAYMENT: "pending"}.get(status, status.value),
        currency="EUR",
        created_at=T0,
        modified_at=modified,
        customer=Customer(store_customer_id="7", email="zoe@example.com", first_name="Zoë", last_name="Müller"),
        billing_address=address,
        shipping_address=address,
        lines=(
            OrderLine(line_id="11", sku=sku, name="Classic Tee", product_id="21", quantity=Decimal(2),
                      unit_price=eur("20.00"), subtotal=eur("40.00"), total=eur("40.00")),
        ),  # fmt: skip
        payment=Payment(method="stripe", transaction_id="ch_1", paid_at=modified if paid else None),
        total=eur("40.00"),
        total_tax=eur("0.00"),
    )
