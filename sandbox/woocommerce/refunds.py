"""Refunds as `wc_create_refund` makes them, step by step: amount check, negative item copies, the refund
saved (its reason with it), then the gateway, then restock, status and `order.updated`.

The refund is visible from the moment it is saved, before the gateway is asked, and deleted again if the
gateway refuses, so a refusal leaves nothing behind. A slow gateway is a window in which the store lists
a refund that has not moved money yet (`refunded_payment` false). Restocking follows
`wc_restock_refunded_items`: only lines whose stock was reduced (`_reduced_stock` meta) and whose
product manages stock, one note per item.
"""
from dataclasses import dataclass, field
from decimal import Decimal

from sandbox.woocommerce import lifecycle
from sandbox.woocommerce.state import ADMIN_USER_ID, Meta, Order, Refund, RefundItem, Store
from sandbox.woocommerce.wire import money

ZERO = Decimal(0)


class RefundFailed(Exception):
    """`wc_create_refund` returned a WP_Error; the message is what the merchant (and the API) sees."""


@dataclass
class RefundedItem:
    """One entry of the request's `line_items`, keyed by order item id in `wc_create_refund`'s args."""

    quantity: int = 0
    refund_total: Decimal = ZERO
    refund_tax: dict[int, Decimal] = field(default_factory=dict)


@dataclass
class SavedRefund:
    """A refund `wc_create_refund` has saved, with what its later steps need."""

    refund: Refund
    order: Order
    items: dict[int, RefundedItem]
    remaining_before: Decimal  # `$remaining_refund_amount`, read before the refund existed


def total_refunded(store: Store, order: Order) -> Decimal:
    return sum((r.amount for r in store.refunds_of(order.id)), ZERO)


def remaining_refund_amount(store: Store, order: Order) -> Decimal:
    return order.total - total_refunded(store, order)


def save_refund(store: Store, order: Order, amount: Decimal, reason: str,
                items: dict[int, RefundedItem]) -> SavedRefund:
    """Up to `$refund->save()`: from here the refund is listed, with its reason."""
    remaining = remaining_refund_amount(store, order)
    if amount < 0 or amount > remaining:
        raise RefundFailed("Invalid refund amount.")
    refund = Refund(store.next_post_id(), order.id, amount, reason, store.now(), ADMIN_USER_ID)
    refund.items = _negative_items(store, order, items)
    store.refunds[refund.id] = refund
    return SavedRefund(refund, order, items, remaining)


def refund_payment_at_gateway(store: Store, saved: SavedRefund) -> None:
    """`wc_refund_payment` with the refund's amount and reason; a refusal deletes the saved refund."""
    try:
        _gateway_refund(store, saved.order, saved.refund)
    except RefundFailed:
        del store.refunds[saved.refund.id]
        raise
    saved.refund.refunded_payment = True


def finish_refund(store: Store, saved: SavedRefund, restock: bool) -> None:
    """Restock, the order's status and `woocommerce_order_refunded` (which queues `order.updated`)."""
    order = saved.order
    if restock:
        _restock(store, order, saved.items)
    order.modified = store.now()
    if saved.remaining_before - saved.refund.amount <= 0:
        lifecycle.set_status(store, order, "refunded")
    store.emit("order.updated", order.id)


def refund_remaining(store: Store, order: Order) -> None:
    """`wc_order_fully_refunded`: an order set to refunded by hand gets a refund for what is left,
    without asking the gateway, and a note telling the merchant to move the money themselves."""
    remaining = remaining_refund_amount(store, order)
    if remaining <= 0:
        return
    finish_refund(store, save_refund(store, order, remaining, "Order fully refunded.", {}), restock=False)
    store.add_note(order.id, "Order status set to refunded. To return funds to the customer you will need to "
                             "issue a refund through your payment gateway.")


def _gateway_refund(store: Store, order: Order, refund: Refund) -> None:
    """`wc_refund_payment`: the order's gateway must exist and support refunds; its `process_refund` is
    logged (the money a real gateway would move, or its refusal) and may refuse."""
    gateway = store.config.gateways.get(order.payment_method)
    if gateway is None:
        raise RefundFailed("The payment gateway for this order does not exist.")
    if not gateway.refunds:
        raise RefundFailed("The payment gateway for this order does not support automatic refunds.")
    refused = store.gateway_refusals.get(order.payment_method)
    store.gateway_refunds.append({"order_id": order.id, "method": order.payment_method,
                                  "amount": money(refund.amount), "reason": refund.reason, "refused": refused})
    if refused is not None:
        raise RefundFailed(refused)


def _negative_items(store: Store, order: Order, items: dict[int, RefundedItem]) -> list[RefundItem]:
    """Ids that are not items of this order are skipped silently, as WooCommerce does."""
    copies = []
    for kind in ("line_items", "fee_lines", "shipping_lines"):
        for item in getattr(order, kind):
            wanted = items.get(item.id)
            if wanted is None or not (wanted.quantity or wanted.refund_total or wanted.refund_tax):
                continue
            copy = RefundItem(store.next_item_id(), kind, item.id, getattr(item, "name", "")
                              or getattr(item, "method_title", ""), -wanted.quantity, -wanted.refund_total,
                              {rate_id: -amount for rate_id, amount in wanted.refund_tax.items()})
            if kind == "line_items":
                copy.product_id, copy.variation_id, copy.tax_class = item.product_id, item.variation_id, item.tax_class
            elif kind == "shipping_lines":
                copy.method_id = item.method_id
            copies.append(copy)
    return copies


def _restock(store: Store, order: Order, items: dict[int, RefundedItem]) -> None:
    for line in order.line_items:
        wanted = items.get(line.id)
        reduced = next((m for m in line.meta if m.key == "_reduced_stock"), None)
        product = lifecycle.line_product(store, line)
        if (wanted is None or not wanted.quantity or reduced is None or not int(reduced.value) or product is None
                or not product.manage_stock):
            continue
        before = product.stock_quantity or 0
        lifecycle.change_stock(store, product, before + wanted.quantity)
        reduced.value = str(int(reduced.value) - wanted.quantity)
        restocked = next((m for m in line.meta if m.key == "_restock_refunded_items"), None)
        if restocked is None:
            line.meta.append(Meta(store.next_meta_id(), "_restock_refunded_items", str(wanted.quantity)))
        else:
            restocked.value = str(int(restocked.value) + wanted.quantity)
        store.add_note(order.id, f"Item #{product.id} stock increased from {before} to {product.stock_quantity}.")
