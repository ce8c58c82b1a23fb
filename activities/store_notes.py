"""Order notes written exactly once: WooCommerce notes have no idempotency key, so we look before we write."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by modules the workflow sandbox loads; keep HTTP clients out of it
    from adapters.woocommerce import WooCommerceClient


async def note_once(store: "WooCommerceClient", order_id: str, text: str, *, marker: str, customer_visible: bool) -> None:
    """Add `text` unless a note containing `marker` exists; a retry after a lost response then adds nothing."""
    if not any(marker in note.text for note in await store.list_order_notes(order_id)):
        await store.add_order_note(order_id, text, customer_visible=customer_visible)
