"""Hostile requests for the starter's three endpoints, signed and unsigned, reproducible from a seed.

A benchmark fires thousands at a running starter and counts 5xx (there must be none: a hostile body is
refused with a 4xx and its reason, or accepted as an order that parks); the tests fire a few hundred
through the ASGI app. Each case starts from a valid body and breaks one thing: a value anywhere in it,
the JSON text itself, its size, or its signature.
"""
import base64
import copy
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from starter.signatures import woocommerce_signature

HOSTILE_VALUES: tuple[object, ...] = (
    None, True, False, 0, -1, 1.5, 2**63, 10**400, -(10**30), float("inf"), float("-inf"), float("nan"),
    "", " ", "0", "-1", "1.5", "1e999999", "-1e999999", "1e-999999", "NaN", "sNaN", "Infinity", "9" * 5000,
    "false", "true", "null", "\ud800", "a\udfffb", "\x00", "é" * 3000, "x" * 3000, "../../etc", "<script>",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2024-02-30T00:00:00", "not a date",
    [], [None], [[[]]], {}, {"id": []}, {"": None}, [{"id": 1}] * 3,
)  # fmt: skip
"""Values that have broken JSON mappers: wrong types, overflowing numbers, impossible dates, lone surrogates."""

RAW_BREAKAGES: tuple[str, ...] = (
    "not_utf8", "truncated", "deep_nesting", "huge_integer", "infinite_float", "nan_literal", "lone_surrogate",
    "empty", "not_json", "top_level_array", "too_large_for_temporal", "duplicate_keys",
)  # fmt: skip

WOOCOMMERCE_ORDER: dict = {
    "id": 1, "number": "1", "status": "processing", "currency": "EUR", "prices_include_tax": False,
    "date_created_gmt": "2026-11-20T10:00:00", "date_modified_gmt": "2026-11-20T10:05:00",
    "date_paid_gmt": "2026-11-20T10:05:00", "customer_id": 7, "customer_note": "",
    "billing": {"first_name": "Zoë", "last_name": "Müller", "company": "", "address_1": "1 Rue de la Paix",
                "address_2": "", "city": "Paris", "state": "", "postcode": "75002", "country": "FR",
                "email": "zoe@example.com", "phone": ""},
    "shipping": {"first_name": "Zoë", "last_name": "Müller", "address_1": "1 Rue de la Paix", "city": "Paris",
                 "postcode": "75002", "country": "FR"},
    "payment_method": "stripe", "payment_method_title": "Card", "transaction_id": "ch_1",
    "total": "52.80", "total_tax": "8.80",
    "line_items": [{"id": 11, "name": "Classic Tee", "product_id": 21, "variation_id": 0, "quantity": 2,
                    "subtotal": "40.00", "total": "40.00", "sku": "TEE-CLASSIC",
                    "taxes": [{"id": 1, "total": "8", "subtotal": "8"}], "meta_data": []}],
    "shipping_lines": [{"id": 12, "method_id": "flat_rate", "method_title": "Flat rate", "total": "4.00",
                        "taxes": [{"id": 1, "total": "0.8", "subtotal": ""}]}],
    "fee_lines": [], "coupon_lines": [],
    "tax_lines": [{"id": 13, "rate_id": 1, "rate_code": "FR-VAT-20", "label": "VAT", "compound": False,
                   "rate_percent": 20}],
    "refunds": [{"id": 14, "reason": "", "total": "-1.00"}],
}  # fmt: skip
"""A paid WooCommerce REST v3 order, as a webhook carries it."""

SHIPBOB_SHIPMENT: dict = {
    "id": 100, "reference_id": "st:1:any", "status": "Completed", "status_details": [{"id": 0, "name": ""}],
    "location": {"id": 1, "name": "Cicero (IL)"},
    "products": [{"id": 5, "reference_id": "TEE-CLASSIC", "name": "Classic Tee",
                  "inventory_items": [{"id": 8, "quantity": 2}]}],
    "tracking": {"carrier": "USPS", "tracking_number": "9400", "tracking_url": "https://t.example/9400",
                 "shipping_date": "2026-11-21T08:00:00Z"},
    "actual_fulfillment_date": "2026-11-21T07:00:00Z",
}  # fmt: skip
"""A ShipBob 2026-01 `order.shipped` webhook body (a `ShipmentViewModel`)."""

RETURN_REQUEST: dict = {"store_id": "st", "order_id": "1", "lines": [{"sku": "TEE-CLASSIC", "quantity": 1}]}
"""A returns portal's `POST /returns` body."""


SMALLEST_ITEMS: dict[str, dict] = {
    "line_items": {"id": 9, "product_id": 0, "quantity": 1, "subtotal": "1", "total": "1"},
    "products": {"reference_id": "TEE-CLASSIC", "inventory_items": [{"quantity": 1}]},
    "lines": {"sku": "TEE-CLASSIC", "quantity": 1},
}
"""The smallest valid item of each body's list: 12,000 of them stay under 1 MB."""


@dataclass(frozen=True)
class Secrets:
    """What the starter under test is configured with, so signed cases carry valid signatures."""

    store_id: str
    woocommerce: str
    shipbob: str  # `whsec_…`
    returns_token: str


@dataclass(frozen=True)
class HostileCase:
    endpoint: str  # path on the starter
    headers: dict[str, str]
    body: bytes
    signed: bool  # a valid signature (or bearer token) over a hostile body
    breakage: str  # what was broken, for a report


def hostile_cases(count: int, seed: int, secrets: Secrets) -> list[HostileCase]:
    """`count` cases, the same for the same seed; about three in four signed, spread over the three endpoints."""
    rng = random.Random(seed)
    makers: list[Callable[[random.Random, Secrets], HostileCase]] = [_woocommerce_case, _shipbob_case, _returns_case]
    return [makers[i % len(makers)](rng, secrets) for i in range(count)]


def _woocommerce_case(rng: random.Random, secrets: Secrets) -> HostileCase:
    order = json.loads(json.dumps(WOOCOMMERCE_ORDER))
    order["id"] = order_id = rng.randrange(10**8, 10**9)
    order["number"] = str(order_id)
    body, breakage = _broken(rng, order, "line_items")
    signed = rng.random() < 0.75
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": rng.choice(["order.created", "order.updated"])}
    headers["X-WC-Webhook-Signature"] = woocommerce_signature(body, secrets.woocommerce if signed else "forged")
    if not signed and rng.random() < 0.3:
        del headers["X-WC-Webhook-Signature"]
    return HostileCase(f"/webhooks/woocommerce/{secrets.store_id}", headers, body, signed, breakage)


def _shipbob_case(rng: random.Random, secrets: Secrets) -> HostileCase:
    shipment = json.loads(json.dumps(SHIPBOB_SHIPMENT))
    shipment["reference_id"] = f"{secrets.store_id}:{rng.randrange(1, 10**9)}:any"
    body, breakage = _broken(rng, shipment, "products")
    signed = rng.random() < 0.75
    delivery_id = f"msg_{uuid.UUID(int=rng.getrandbits(128)).hex}"
    secret = secrets.shipbob if signed else "whsec_" + base64.b64encode(rng.randbytes(24)).decode()
    sent = int(time.time())
    topic = rng.choice(["order.shipped", "order.shipment.delivered", "order.shipment.exception", "return.updated"])
    headers = {
        "Content-Type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(sent),
        "webhook-signature": standard_webhooks_signature(secret, delivery_id, sent, body),
        "x-webhook-topic": topic,
    }
    return HostileCase("/webhooks/shipbob", headers, body, signed, breakage)


def _returns_case(rng: random.Random, secrets: Secrets) -> HostileCase:
    request = json.loads(json.dumps(RETURN_REQUEST))
    request["store_id"] = secrets.store_id
    request["order_id"] = str(rng.randrange(1, 10**9))
    body, breakage = _broken(rng, request, "lines")
    signed = rng.random() < 0.75
    token = secrets.returns_token if signed else "forged"
    return HostileCase("/returns", {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}, body,
                       signed, breakage)  # fmt: skip


def standard_webhooks_signature(secret: str, delivery_id: str, sent: int, body: bytes) -> str:
    """Over the raw bytes, which need not be UTF-8 (the reference library signs text only)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{delivery_id}.{sent}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _broken(rng: random.Random, payload: dict, list_field: str) -> tuple[bytes, str]:
    """Break one value (two in three cases), or the JSON text itself."""
    if rng.random() < 2 / 3:
        path = rng.choice(json_paths(payload)[1:])
        return _dumps(with_value(payload, path, rng.choice(HOSTILE_VALUES))), f"value at {'.'.join(map(str, path))}"
    breakage = rng.choice(RAW_BREAKAGES)
    return _raw(rng, payload, list_field, breakage), breakage


def _raw(rng: random.Random, payload: dict, list_field: str, breakage: str) -> bytes:
    text = _dumps(payload)
    if breakage == "not_utf8":
        at = rng.randrange(len(text))
        return text[:at] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]) + text[at:]
    if breakage == "truncated":
        return text[: rng.randrange(len(text))]
    if breakage == "deep_nesting":
        depth = rng.choice([100, 1_000, 100_000])
        return text[:-1] + b', "x": ' + b"[" * depth + b"]" * depth + b"}"
    if breakage == "huge_integer":
        return text[:-1] + b', "id": ' + b"9" * rng.choice([20, 5_000, 100_000]) + b"}"
    if breakage == "infinite_float":
        return text[:-1] + b', "total": 1e999999}'
    if breakage == "nan_literal":
        return text[:-1] + b', "total": NaN}'
    if breakage == "lone_surrogate":
        return text[:-1] + b', "number": "\\ud800", "customer_note": "\\udfff"}'
    if breakage == "empty":
        return b""
    if breakage == "not_json":
        return rng.randbytes(rng.randrange(1, 200))
    if breakage == "top_level_array":
        return b"[" + text + b"]"
    if breakage == "duplicate_keys":
        return text[:-1] + b', "id": "again", "id": [1]}'
    # too_large_for_temporal: under the body limit, but the canonical order outgrows Temporal's 2 MB payloads
    line = json.dumps(SMALLEST_ITEMS[list_field], separators=(",", ":")).encode()
    many = b"[" + b",".join([line] * 12_000) + b"]"
    return text[:-1] + b', "' + list_field.encode() + b'": ' + many + b"}"


def json_paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value, the whole of it (`()`) first."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += json_paths(child, (*prefix, index))
    return paths


def with_value(payload: object, path: tuple, value: object) -> object:
    """A copy of `payload` with `value` at `path`."""
    if not path:
        return value
    changed = copy.deepcopy(payload)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return changed


def _dumps(payload: dict) -> bytes:
    """JSON as a sender might write it: non-finite floats as `Infinity`/`NaN`, lone surrogates escaped."""
    return json.dumps(payload).encode()
