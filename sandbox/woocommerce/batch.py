"""`POST /products/batch` and `POST /products/{id}/variations/batch` (`WC_REST_Controller::batch_items`).

`{"create": [...], "update": [...], "delete": [ids]}`, counted together against the store's batch limit
(filter `woocommerce_rest_batch_items_limit`, default 100): over it the whole request is refused with 413.
Otherwise the items run one after the other through the single-item rules of `products.py`, without the
schema validation a single request gets (contract §11), and the answer is 200 whatever happens to them:
per item the full resource, or `{"id", "error": {code, message, data}}` with id 0 for a failed create and
the posted id (null when missing) for an update. `delete` reads each entry as PHP's `(int)` would (an
object becomes 1, 0 is skipped) and deletes for good. Nothing posted answers `[]` (PHP's empty array).
"""
from typing import Any, Callable

from sandbox.woocommerce.errors import WooError, invalid_params
from sandbox.woocommerce.products import (
    edit_product,
    edit_variation,
    intval,
    new_product,
    new_variation,
    product_view,
    remove_product,
    remove_variation,
    variation_view,
)
from sandbox.woocommerce.rest import EDITABLE, Call, Route, respond

KINDS = ("create", "update", "delete")


def _items(body: dict, kind: str) -> list:
    raw = body.get(kind)
    if not raw:
        return []
    if isinstance(raw, dict):
        return list(raw.values())
    if not isinstance(raw, list):
        raise invalid_params({kind: f"{kind} is not of type array."})
    return raw


def _attempt(work: Callable[[], dict], failed_id: Any) -> dict:
    try:
        return work()
    except WooError as error:
        return {"id": failed_id, "error": error.body()}


def _run(call: Call, create: Callable[[dict], dict], update: Callable[[int, dict], dict],
         delete: Callable[[int], dict]):
    store = call.store
    call.require_user("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource.")
    items = {kind: _items(call.body, kind) for kind in KINDS}
    if sum(map(len, items.values())) > store.batch_limit:
        raise WooError(413, "woocommerce_rest_request_entity_too_large",
                       f"Unable to accept more than {store.batch_limit} items for this request.")
    answer: dict[str, list] = {}
    for item in items["create"]:
        body = item if isinstance(item, dict) else {}
        answer.setdefault("create", []).append(_attempt(lambda: create(body), 0))
    for item in items["update"]:
        body = item if isinstance(item, dict) else {}
        answer.setdefault("update", []).append(_attempt(lambda: update(intval(body.get("id")), body), body.get("id")))
    for item_id in map(intval, items["delete"]):
        if item_id:
            answer.setdefault("delete", []).append(_attempt(lambda: delete(item_id), item_id))
    return respond(store, answer or [])


def products_batch(call: Call):
    store = call.store
    return _run(call,
                create=lambda body: product_view(store, new_product(store, body, lenient=True)),
                update=lambda pid, body: product_view(store, edit_product(store, pid, body, lenient=True)),
                delete=lambda pid: remove_product(store, pid, force=True))


def variations_batch(call: Call):
    store, parent_id = call.store, int(call.path["product_id"])
    return _run(call,
                create=lambda body: variation_view(store, new_variation(store, parent_id, body, lenient=True)),
                update=lambda vid, body: variation_view(
                    store, edit_variation(store, parent_id, vid, body, lenient=True)),
                delete=lambda vid: remove_variation(store, parent_id, vid, force=True))


ROUTES = [
    Route(EDITABLE, "products/batch", products_batch),
    Route(EDITABLE, r"products/(?P<product_id>\d+)/variations/batch", variations_batch),
]
