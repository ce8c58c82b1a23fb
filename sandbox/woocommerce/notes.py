"""`/wc/v3/orders/{id}/notes`: notes are comments, not order saves, so they never fire a webhook."""
import re

from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.rest import Call, Route, respond
from sandbox.woocommerce.state import Note
from sandbox.woocommerce.wire import arg_bool, arg_enum, require_fields_error, wc_dates


def note_view(call: Call, note: Note) -> dict:
    created, created_gmt = wc_dates(note.created, call.store.tz)
    base = f"{call.store.home_url}/wp-json/wc/v3/orders/{note.order_id}"
    return {
        "id": note.id, "author": note.author, "date_created": created, "date_created_gmt": created_gmt,
        "note": note.note, "customer_note": note.customer_note,
        "_links": {"self": [{"href": f"{base}/notes/{note.id}"}], "collection": [{"href": f"{base}/notes"}],
                   "up": [{"href": base}]},
    }


def _order_id(call: Call) -> int:
    order = call.store.orders.get(int(call.path["order_id"]))
    if order is None or order.status == "trash":
        raise WooError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
    return order.id


def unslash(text: str) -> str:
    r"""WordPress saves a comment from request data it takes as slashed: PHP's `stripslashes` drops each
    backslash and keeps the character it escapes (so `\\` becomes one backslash)."""
    return re.sub(r"\\(.?)", r"\1", text, flags=re.S)


def _note(call: Call) -> Note:
    note = call.store.notes.get(int(call.path["id"]))
    if note is None or note.order_id != _order_id(call):
        raise WooError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
    return note


def list_notes(call: Call):
    kind = arg_enum(call.query, "type", ("any", "customer", "internal"), "any")
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    order_id = _order_id(call)
    notes = [n for n in call.store.notes.values() if n.order_id == order_id
             and (kind == "any" or n.customer_note == (kind == "customer"))]
    notes.sort(key=lambda n: (n.created, n.id), reverse=True)
    return respond(call.store, [note_view(call, n) for n in notes])


def get_note(call: Call):
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    return respond(call.store, note_view(call, _note(call)))


def create_note(call: Call):
    if "note" not in call.body and "note" not in call.query:  # an empty note is a note
        raise require_fields_error(["note"])
    call.require_user("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    order_id = _order_id(call)
    author = "admin" if arg_bool(call.params, "added_by_user") else "system"
    text = unslash(str(call.param("note")))
    note = call.store.add_note(order_id, text, arg_bool(call.params, "customer_note"), author)
    location = f"{call.store.home_url}/wp-json/wc/v3/orders/{order_id}/notes/{note.id}"
    return respond(call.store, note_view(call, note), 201, {"Location": location})


def delete_note(call: Call):
    call.require_user("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
    note = _note(call)
    if not arg_bool(call.params, "force"):
        raise WooError(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
    previous = note_view(call, note)
    del call.store.notes[note.id]
    return respond(call.store, previous)


ROUTES = [
    Route(("GET",), r"orders/(?P<order_id>\d+)/notes", list_notes),
    Route(("POST",), r"orders/(?P<order_id>\d+)/notes", create_note),
    Route(("GET",), r"orders/(?P<order_id>\d+)/notes/(?P<id>\d+)", get_note),
    Route(("DELETE",), r"orders/(?P<order_id>\d+)/notes/(?P<id>\d+)", delete_note),
]
