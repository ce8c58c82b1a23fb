"""Every business key retail-sync derives: workflow ids and idempotency keys.

One place, so a webhook, the intake backstop, an activity retry and an operator
all arrive at the same run and the same external record.
"""
import hashlib
import re

from canonical.order import Customer

MAX_ORDER_ID_DIGITS = 19
"""Store order ids are 64-bit integers: a reference naming a longer one is not ours."""


def order_workflow_id(store_id: str, order_id: str) -> str:
    """One order-to-cash run per store order, whatever sent the event."""
    return f"order-{store_id}-{order_id}"


def sales_order_key(store_id: str, order_id: str) -> str:
    """The ERP's unique external id for the sale of one store order."""
    return f"{store_id}:{order_id}"


def customer_key(store_id: str, customer: Customer) -> str:
    """The ERP party code: the store's customer id, or for guests a hash of the e-mail."""
    if customer.store_customer_id:
        return f"{store_id}-C{customer.store_customer_id}"
    email = customer.email.strip().lower()
    digest = hashlib.sha256(email.encode()).hexdigest()[:16]
    return f"{store_id}-G{digest}"


def store_note_marker(kind: str, store_id: str, order_id: str) -> str:
    """Tag put in notes we write to a store order, so a retry can see the note already exists."""
    return f"[retail-sync:{kind}:{store_id}:{order_id}]"


def fulfilment_reference(store_id: str, order_id: str, part: int) -> str:
    """The 3PL order's reference (unique per 3PL account): part 1, 2, … of a store order, numbered by its run
    (a reroute is a new part), so no two 3PL orders ever share one. `p` keeps them apart from the
    `{centre}` parts of runs started before part numbers."""
    return f"{store_id}:{order_id}:p{part}"


def order_of_fulfilment_reference(reference: str) -> tuple[str, str] | None:
    """(store id, order id) from a reference made by `fulfilment_reference`; None if it is not ours."""
    store_id, _, rest = reference.partition(":")
    order_id, _, part = rest.partition(":")
    return (store_id, order_id) if store_id and _is_order_id(order_id) and part else None


def refund_key(store_id: str, order_id: str, refund_of: str) -> str:
    """Our refund's idempotency key: `refund_of` is an RMA or operator reference."""
    return f"{store_id}:{order_id}:refund:{refund_of}"


_REFUND_MARKER = re.compile(r"\s*\[retail-sync:(?P<key>[^\[\]\s]+)\]\s*$")


def reason_with_refund_key(reason: str, key: str) -> str:
    """The store refund's reason, ending with our key: WooCommerce saves the reason before it asks the payment
    gateway and the request's meta only after, so a refund whose answer was lost still shows whose it is."""
    return f"{reason} [retail-sync:{key}]".lstrip()


def refund_key_in_reason(reason: str, store_id: str, order_id: str) -> tuple[str | None, str]:
    """(our key, the reason without it); the key only if it is one of ours for this very order."""
    marker = _REFUND_MARKER.search(reason)
    if marker is None or not marker["key"].startswith(refund_key(store_id, order_id, "")):
        return None, reason
    return marker["key"], reason[: marker.start()]


def refund_workflow_id(store_id: str, order_id: str, refund_of: str) -> str:
    return f"refund-{store_id}-{order_id}-{refund_of}"


def merchant_refund_of(refund_id: str) -> str:
    """What a refund the merchant made in the store is a refund of (`refund_of` above): the store refund's id."""
    return f"wc{refund_id}"


def payout_reference(refund_id: str) -> str:
    """The ERP settlement of a refund the payment provider paid out: what a bookkeeper finds in its report."""
    return f"store refund {refund_id}"


def return_reference(store_id: str, order_id: str, number: int) -> str:
    """The RMA number: printed on the box, the 3PL return's reference, the ERP return's reference."""
    return f"RMA-{store_id}-{order_id}-{number}"


def order_of_return_reference(rma: str) -> tuple[str, str] | None:
    """(store id, order id) from an RMA number made by `return_reference`; None if it is not ours."""
    head, _, tail = rma.partition("RMA-")
    parts = tail.rsplit("-", 2)
    if head or len(parts) != 3 or not parts[0] or not _is_order_id(parts[1]) or not parts[2].isdecimal():
        return None
    return parts[0], parts[1]


def return_number(rma: str, store_id: str, order_id: str) -> int:
    """The order's count in an RMA made by `return_reference` for it (1, 2, 3…)."""
    prefix = f"RMA-{store_id}-{order_id}-"
    number = rma.removeprefix(prefix)
    if not rma.startswith(prefix) or not (number.isascii() and number.isdigit()):
        raise ValueError(f"{rma!r} is not an RMA of order {order_id} of store {store_id}")
    return int(number)


def return_workflow_id(rma: str) -> str:
    return f"return-{rma}"


def stock_sync_workflow_id(store_id: str) -> str:
    """The one long-running run publishing a store's available-to-sell."""
    return f"stock-sync-{store_id}"


STOCK_WATCH_WORKFLOW_ID = "stock-watch"
"""The one run watching the ERP's stock for every store."""


def reconcile_schedule_id(store_id: str) -> str:
    return f"reconcile-{store_id}"


def catalog_schedule_id(store_id: str) -> str:
    return f"catalog-{store_id}"


def _is_order_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= MAX_ORDER_ID_DIGITS
