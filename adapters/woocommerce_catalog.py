"""WooCommerce REST v3 products and variations ↔ canonical listings, and the bodies and answers of batches.

Pure mapping with no I/O. WooCommerce's words (`type`, `manage_stock`, `stock_quantity`, `variations`,
`attributes`) stop here. Caller mistakes (mixed parents, ids that are not ids, a batch over the limit)
are ValueError, raised before anything is sent.
"""
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict

from canonical.inventory import Listing, ListingDraft, ListingStatus, PushResult, StockPush

STATUSES = {
    "publish": ListingStatus.PUBLISHED,
    "draft": ListingStatus.DRAFT,
    "private": ListingStatus.PRIVATE,
    "pending": ListingStatus.PENDING,
}
"""Anything else (`future` = scheduled, plugin statuses) reads as DRAFT: not on sale yet."""
STORE_STATUSES = {status: word for word, status in STATUSES.items()}
LISTED_TYPES = ("simple", "variable", "variation")
"""Grouped and external products sell nothing of their own: no stock to keep, left out of the pages."""
TRANSIENT_ITEM_CODES = frozenset({"db_insert_error", "db_update_error"})
"""WordPress could not write the row (lock, deadlock, lost connection): the same item may succeed later."""
TOO_LARGE_CODE = "woocommerce_rest_request_entity_too_large"
NOT_CREATED_CODE = "woocommerce_rest_product_not_created"
"""An insert refused; on WooCommerce 10 also when a trashed product still holds the SKU (its lookup table
keeps the trash; 7.9 frees a trashed product's SKU)."""


class ListingsPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    listings: list[Listing]
    page: int
    total_pages: int

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages


def listing_from_woocommerce(payload: Any, parent_id: str | None = None) -> Listing | None:
    """One product or variation (`parent_id` given when read from its parent's list); None for a grouped or
    external product. Stock counts only when the listing keeps its own (`manage_stock` true; a variation
    answering "parent" follows its parent's stock)."""
    if not isinstance(payload, dict):
        raise ValueError(f"expected a product object, got {type(payload).__name__}")
    kind = payload.get("type") or ("variation" if parent_id else "simple")
    if kind not in LISTED_TYPES:
        return None
    if kind == "variation" and parent_id is None:
        parent_id = str(payload["parent_id"])
    managed = payload.get("manage_stock") is True
    return Listing(
        sku=payload.get("sku") or "",
        listing_id=str(payload["id"]),
        parent_id=parent_id,
        variable=kind == "variable",
        name=payload.get("name") or "",
        status=STATUSES.get(payload.get("status"), ListingStatus.DRAFT),
        regular_price=_amount(payload.get("regular_price")),
        sale_price=_amount(payload.get("sale_price")),
        manages_stock=managed,
        quantity=_units(payload.get("stock_quantity")) if managed else None,
        backorders_allowed=bool(payload.get("backorders_allowed")),
        description=payload.get("description") or "",
    )


def listings_page(payload: Any, page: int, total_pages: int, parent_id: str | None = None) -> ListingsPage:
    if not isinstance(payload, list):
        raise ValueError(f"expected a list of products, got {type(payload).__name__}")
    found = (listing_from_woocommerce(item, parent_id) for item in payload)
    return ListingsPage(listings=[listing for listing in found if listing], page=page, total_pages=total_pages)


def listings_with_skus(payload: Any, skus: list[str]) -> dict[str, Listing]:
    """The listings of `?sku=` whose SKU is exactly one asked for."""
    found: dict[str, Listing] = {}
    for item in _with_skus(payload, skus):
        listing = listing_from_woocommerce(item)
        if listing is not None:
            found.setdefault(listing.sku, listing)
    return found


def sku_holders(payload: Any, skus: list[str]) -> dict[str, tuple[str, str | None]]:
    """SKU → (id, the parent's id for a variation, else None) of whatever `?sku=` found with exactly that
    SKU, whatever its type (a grouped or external product holds its SKU too)."""
    found: dict[str, tuple[str, str | None]] = {}
    for item in _with_skus(payload, skus):
        parent = item.get("parent_id") if item.get("type") == "variation" else None
        found.setdefault(item["sku"], (str(item["id"]), str(parent) if parent else None))
    return found


def _with_skus(payload: Any, skus: list[str]) -> list[dict[str, Any]]:
    """`?sku=` reads a comma as "or": keep only the products whose SKU is exactly one asked for."""
    if not isinstance(payload, list):
        raise ValueError(f"expected a list of products, got {type(payload).__name__}")
    wanted = set(skus)
    return [item for item in payload if isinstance(item, dict) and item.get("sku") in wanted]


def batch_path(parent_id: str | None, sizes: int, limit: int) -> str:
    """`products/batch`, or the variations batch of one variable product."""
    if sizes > limit:
        raise ValueError(f"{sizes} items in one batch, the store accepts {limit}: split them")
    return "products/batch" if parent_id is None else f"products/{_ref(parent_id)}/variations/batch"


def shared_parent(pushes: list[StockPush]) -> str | None:
    """The parent every push shares (None: top-level products); mixing parents is the caller's mistake."""
    parents = {push.parent_id for push in pushes}
    if len(parents) != 1:
        raise ValueError(f"one batch writes under one parent, got {sorted(map(str, parents))}")
    return parents.pop()


def stock_batch(pushes: list[StockPush]) -> dict[str, Any]:
    """`stock_quantity` counts only on a listing that manages stock: take it over in the same item."""
    return {"update": [{"id": _ref(push.listing_id), "manage_stock": True, "stock_quantity": push.quantity}
                       for push in pushes]}  # fmt: skip


def stock_results(pushes: list[StockPush], payload: Any) -> list[PushResult]:
    return [_stock_result(push, answer) for push, answer in zip(pushes, answers(payload, "update", len(pushes)))]


def _stock_result(push: StockPush, answer: dict[str, Any]) -> PushResult:
    """A success that does not show the quantity (a listing kind that cannot keep stock) is no success."""
    result = item_result(push.sku, push.listing_id, answer)
    if result.ok and (answer.get("manage_stock") is not True or _units(answer.get("stock_quantity")) != push.quantity):
        shown = answer.get("stock_quantity")
        return result.model_copy(update={"ok": False, "code": "stock_not_applied",
                                         "message": f"store shows {shown!r} units, not {push.quantity}"})
    return result


def catalog_batch(parent_id: str | None, creates: list[ListingDraft], updates: list[ListingDraft]) -> dict[str, Any]:
    """The body creating and updating listings under one parent (None: top level); {} when there is nothing."""
    _check_drafts(parent_id, creates, updates)
    return {kind: [draft_body(d) for d in drafts] for kind, drafts in (("create", creates), ("update", updates))
            if drafts}  # fmt: skip


def catalog_results(creates: list[ListingDraft], updates: list[ListingDraft], payload: Any) -> list[PushResult]:
    """The creates' results, then the updates', each in the order given."""
    created = zip(creates, answers(payload, "create", len(creates)) if creates else [])
    updated = zip(updates, answers(payload, "update", len(updates)) if updates else [])
    return [item_result(draft.sku, draft.listing_id, answer) for draft, answer in [*created, *updated]]


def draft_body(draft: ListingDraft) -> dict[str, Any]:
    """A product (name, type on create, variation attributes of a variable one) or a variation (its options).
    Never images, and a description only when the draft carries one (the store owns it unless configured).
    `type` only on create: changing a listing's kind is the merchant's call."""
    body: dict[str, Any] = {"sku": draft.sku, "status": STORE_STATUSES[draft.status],
                            "manage_stock": draft.manages_stock}
    if draft.listing_id is not None:
        body["id"] = _ref(draft.listing_id)
    if draft.parent_id is not None:
        body["attributes"] = [{"name": name, "option": value} for name, value in draft.options.items()]
    else:
        body["name"] = draft.name
        if draft.listing_id is None:
            body["type"] = "variable" if draft.variable else "simple"
        if draft.variable:
            body["attributes"] = [{"name": name, "options": list(values), "variation": True, "visible": True}
                                  for name, values in draft.option_values.items()]  # fmt: skip
    if draft.description is not None:
        body["description"] = draft.description
    if not draft.variable:
        body["regular_price"] = _price_text(draft.regular_price)
        body["sale_price"] = _price_text(draft.sale_price)
    return body


def _check_drafts(parent_id: str | None, creates: list[ListingDraft], updates: list[ListingDraft]) -> None:
    if any(d.listing_id is not None for d in creates) or any(d.listing_id is None for d in updates):
        raise ValueError("creates have no listing_id, updates have one")
    if any(d.parent_id != parent_id for d in [*creates, *updates]):
        raise ValueError(f"every draft of this batch must have parent_id {parent_id!r}")
    if parent_id is not None and any(d.variable for d in [*creates, *updates]):
        raise ValueError("an option of a variable listing cannot itself be variable")


def item_result(sku: str, listing_id: str | None, answer: Any) -> PushResult:
    """One element of a batch answer: the resource, or `{"id", "error": {code, message, data}}`."""
    error = answer.get("error")
    if error is None:
        return PushResult(sku=sku, ok=True, listing_id=str(answer["id"]))
    data = error.get("data")
    status = data if isinstance(data, int) else (data or {}).get("status")
    code = str(error.get("code") or "")
    retryable = code in TRANSIENT_ITEM_CODES or (isinstance(status, int) and (status == 429 or status >= 500))
    return PushResult(sku=sku, ok=False, listing_id=listing_id, code=code,
                      message=str(error.get("message") or "")[:300], retryable=retryable)


def answers(payload: Any, kind: str, expected: int) -> list[dict[str, Any]]:
    """The `kind` answers, one per item sent and in the same order (PHP answers `[]` when nothing was sent)."""
    found = payload.get(kind, []) if isinstance(payload, dict) else payload
    if not isinstance(found, list) or len(found) != expected or not all(isinstance(a, dict) for a in found):
        raise ValueError(f"expected {expected} {kind} answers, got {found!r:.200}")
    return found


def too_large_limit(message: str) -> int | None:
    """"Unable to accept more than 100 items for this request." (translated on some stores: any number)."""
    number = re.search(r"\d+", message)
    return int(number.group()) if number else None


def _ref(value: str) -> int:
    """Ids go into bodies and URL paths: digits only."""
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"not a WooCommerce id: {value[:40]!r}")
    return int(value)


def _price_text(amount: Decimal | None) -> str:
    """"" clears a price in WooCommerce."""
    return "" if amount is None else f"{amount:f}"


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a price: {value!r:.40}") from None


def _units(value: Any) -> int | None:
    """Whole units; a plugin storing decimals gets them cut to whole units."""
    amount = _amount(value)
    return None if amount is None else int(amount)
