"""What the store does when an order changes state: dates, stock, notes and the hooks webhooks listen to.

Stock follows `wc_maybe_reduce_stock_levels` / `wc_maybe_increase_stock_levels`: reduced once when the
order reaches processing, completed or on-hold (never for pending), given back on cancelled or pending,
with a note per change and `_reduced_stock` meta on each line.
"""
from sandbox.woocommerce.state import STATUS_NAMES, Meta, Order, Product, Store

PAID_STATUSES = ("processing", "completed")
REDUCING_STATUSES = ("processing", "completed", "on-hold")
RESTORING_STATUSES = ("cancelled", "pending")
PAYABLE_STATUSES = ("pending", "failed")


def line_product(store: Store, line) -> Product | None:
    return store.products.get(line.variation_id or line.product_id)


def set_status(store: Store, order: Order, new_status: str) -> None:
    """`WC_Order::set_status` + `status_transition`: hooks for the new status first, then the note."""
    old_status = order.status
    order.status = new_status
    if old_status == new_status:
        return
    if new_status in PAID_STATUSES and order.date_paid is None:
        order.date_paid = store.now()
    if new_status == "completed" and order.date_completed is None:
        order.date_completed = store.now()
    if new_status in REDUCING_STATUSES:
        reduce_stock(store, order)
    elif new_status in RESTORING_STATUSES:
        restore_stock(store, order)
    store.add_note(order.id, f"Order status changed from {STATUS_NAMES.get(old_status, old_status)} to "
                             f"{STATUS_NAMES.get(new_status, new_status)}.")


def payment_complete(store: Store, order: Order, transaction_id: str) -> None:
    """`WC_Order::payment_complete`: only from pending/failed/on-hold/cancelled; moves the order to processing."""
    if order.status not in ("on-hold", "pending", "failed", "cancelled"):
        return
    if transaction_id:
        order.transaction_id = transaction_id
    if order.date_paid is None:
        order.date_paid = store.now()
    set_status(store, order, "processing")
    reduce_stock(store, order)


def needs_payment(order: Order) -> bool:
    return order.status in PAYABLE_STATUSES and order.total > 0


def reduce_stock(store: Store, order: Order) -> None:
    if order.stock_reduced:
        return
    changes = []
    for line in order.line_items:
        product = line_product(store, line)
        if product is None or not product.manage_stock or any(m.key == "_reduced_stock" for m in line.meta):
            continue
        before = product.stock_quantity or 0
        change_stock(store, product, before - line.quantity)
        line.meta.append(Meta(store.next_meta_id(), "_reduced_stock", str(line.quantity)))
        changes.append(f"{product.formatted_name()} {before}&rarr;{product.stock_quantity}")
    order.stock_reduced = True
    if changes:
        store.add_note(order.id, "Stock levels reduced: " + ", ".join(changes))


def restore_stock(store: Store, order: Order) -> None:
    if not order.stock_reduced:
        return
    changes = []
    for line in order.line_items:
        reduced = next((m for m in line.meta if m.key == "_reduced_stock"), None)
        product = line_product(store, line)
        if reduced is None or product is None or not product.manage_stock:
            continue
        before = product.stock_quantity or 0
        change_stock(store, product, before + int(reduced.value))
        line.meta.remove(reduced)
        changes.append(f"{product.formatted_name()} {before}&rarr;{product.stock_quantity}")
    order.stock_reduced = False
    if changes:
        store.add_note(order.id, "Stock levels increased: " + ", ".join(changes))


def change_stock(store: Store, product: Product, quantity: int) -> None:
    product.stock_quantity = quantity
    product.recompute_stock_status()
    product.modified = store.now()
    store.emit("product.updated", product.id)
