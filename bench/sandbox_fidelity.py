"""Sandbox fidelity (issue 12): one REST scenario run step by step against the sandbox store and against each
real store (WooCommerce 10.0.2 with HPOS, 7.9.0 on posts storage); a step is identical when the status, the
error code, the response's field names and the values a client reads are the same. Ids are compared only
where they must be equal (none differ by design: each store numbers its own objects).

    .venv/bin/python -m bench.sandbox_fidelity
"""
import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from adapters.oauth1 import OAuth1QueryAuth
from bench.stats import write_result
from sandbox.real_woocommerce import RELEASES, RealStore, start
from sandbox.real_woocommerce.catalogue import seed_demo_catalogue
from sandbox.woocommerce.config import DEMO_KEY, SandboxConfig
from sandbox.woocommerce.server import run_woocommerce_sandbox
from sandbox.woocommerce.shopper import CUSTOMERS


@dataclass(frozen=True)
class Step:
    name: str
    method: str
    path: str  # may name an earlier step's id: {order}, {refund}, {webhook}, {product}, {tee}
    body: dict | None = None
    params: dict | None = None
    read: tuple[str, ...] = ()  # dotted paths whose values a client reads ("line_items.*.sku")
    keep: str | None = None  # remember the response's id under this name
    headers: tuple[str, ...] = ()  # response headers a client reads
    signed: bool = True
    unordered: bool = False  # a list whose order within one second is the database's (notes of one second)


@dataclass
class Outcome:
    status: int
    code: str | None
    keys: tuple[str, ...]
    values: dict[str, Any]
    headers: dict[str, bool] = field(default_factory=dict)


STAMP = datetime.now(UTC).strftime("%H%M%S")
ZOE = CUSTOMERS["zoe"]
ORDER = {
    "payment_method": "bacs", "payment_method_title": "Direct bank transfer", "set_paid": True,
    "billing": ZOE, "shipping": {k: v for k, v in ZOE.items() if k != "email"},
    "line_items": [{"product_id": "{tee}", "quantity": 2}],
    "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat rate", "total": "4.90"}],
}  # fmt: skip
ORDER_READS = ("status", "currency", "total", "total_tax", "shipping_total", "prices_include_tax",
               "line_items.*.sku", "line_items.*.quantity", "line_items.*.total", "line_items.*.total_tax",
               "tax_lines.*.rate_code", "tax_lines.*.tax_total", "date_paid_gmt.present", "payment_method")  # fmt: skip


def _variable_product(prefix: str) -> dict:
    return {"name": f"Fidelity {prefix}", "sku": f"{prefix}-{STAMP}", "type": "variable",
            "attributes": [{"name": "Size", "options": ["S", "M"], "variation": True, "visible": True}]}


SCENARIO = (
    Step("a simple product by SKU", "GET", "products", params={"sku": "TEE-CLASSIC"},
         read=("*.sku", "*.type", "*.price", "*.regular_price", "*.tax_class", "*.manage_stock", "*.status")),
    Step("a variation by SKU", "GET", "products", params={"sku": "HOODIE-M"},
         read=("*.sku", "*.type", "*.price", "*.attributes")),
    Step("a paid order", "POST", "orders", body=ORDER, read=ORDER_READS, keep="order"),
    Step("the order read back", "GET", "orders/{order}", read=ORDER_READS),
    Step("meta upserted", "PUT", "orders/{order}", body={"meta_data": [{"key": "_retail_sync_sale", "value": "S-1"}]},
         read=("meta_data.*.key", "meta_data.*.value")),
    Step("a private note", "POST", "orders/{order}/notes", body={"note": "ERP sale S-1", "customer_note": False},
         read=("note", "customer_note")),
    Step("an empty note", "POST", "orders/{order}/notes", body={"note": ""}, read=("note",)),
    Step("a note with backslashes", "POST", "orders/{order}/notes", body={"note": "C:\\orders\\1 [rs:1]"},
         read=("note",)),
    Step("the notes listed", "GET", "orders/{order}/notes", read=("*.note", "*.customer_note"), unordered=True),
    Step("a refund recorded", "POST", "orders/{order}/refunds",
         body={"amount": "5.00", "reason": "goodwill [retail-sync:k1]", "api_refund": False},
         read=("amount", "reason", "refunded_payment"), keep="refund", headers=("Location",)),
    Step("the refunds listed", "GET", "orders/{order}/refunds", params={"context": "edit"},
         read=("*.amount", "*.reason")),
    Step("a refund over what is left", "POST", "orders/{order}/refunds", body={"amount": "900.00", "api_refund": False}),
    Step("orders modified after a GMT instant", "GET", "orders",
         params={"modified_after": "{recent}", "dates_are_gmt": "true", "status": "processing", "include": "{order}"},
         read=("*.status",)),
    Step("status completed", "PUT", "orders/{order}", body={"status": "completed"}, read=("status",)),
    Step("an unknown order", "GET", "orders/987654321"),
    Step("an order with an invalid billing e-mail", "POST", "orders",
         body={**ORDER, "billing": {**ZOE, "email": "not-an-email"}}),
    Step("a line without a product", "POST", "orders", body={**ORDER, "line_items": [{"name": "x", "quantity": 1}]}),
    Step("a coupon", "POST", "coupons", body={"code": f"FID{STAMP}", "amount": "10", "discount_type": "percent"},
         read=("code", "amount", "discount_type"), keep="coupon", headers=("Location",)),
    Step("its code again", "POST", "coupons", body={"code": f"fid{STAMP}", "amount": "5"}),
    Step("a coupon of no known type", "POST", "coupons", body={"code": f"odd{STAMP}", "discount_type": "bogo"},
         read=("data",)),
    Step("coupons by code", "GET", "coupons", params={"code": f"FID{STAMP}"}, read=("*.code", "*.amount")),
    Step("the coupon deleted", "DELETE", "coupons/{coupon}", read=("code",)),
    Step("a page too large", "GET", "orders", params={"per_page": "101"}, read=("data",)),
    Step("a date that is no date", "GET", "orders", params={"modified_after": "yesterday"}, read=("data",)),
    Step("ids that are no ids", "GET", "orders", params={"include": "none"}, read=("*.id",)),
    Step("a variable product", "POST", "products", body=_variable_product("FIDV"), keep="variable",
         read=("type", "attributes")),
    Step("its option", "POST", "products/{variable}/variations", keep="option", read=("parent_id", "attributes"),
         body={"sku": f"FIDV-S-{STAMP}", "regular_price": "9.00", "attributes": [{"name": "Size", "option": "S"}]}),
    Step("another variable product", "POST", "products", body=_variable_product("FIDW"), keep="other"),
    Step("the option written through the other product", "POST", "products/{other}/variations/batch",
         body={"update": [{"id": "{option}", "regular_price": "8.00"}]}, read=("update.*.parent_id", "update.*.price")),
    Step("the option read back", "GET", "products/{option}", read=("parent_id", "price")),
    Step("the first product's options", "GET", "products/{variable}/variations", read=("*.id",)),
    Step("options by id", "GET", "products/{other}/variations", params={"include": "{option},1"}, read=("*.id",)),
    Step("a webhook", "POST", "webhooks", keep="webhook", read=("status", "topic", "delivery_url"),
         body={"name": "fidelity", "topic": "order.updated", "delivery_url": "http://127.0.0.1:9/h", "secret": "s"}),
    Step("the webhook paused", "PUT", "webhooks/{webhook}", body={"status": "paused"}, read=("status",)),
    Step("stock set in a batch", "POST", "products/batch",
         body={"update": [{"id": "{tee}", "stock_quantity": 100, "manage_stock": True}]},
         read=("update.*.stock_quantity",)),
    Step("an unknown id in a batch", "POST", "products/batch", body={"update": [{"id": 987654321, "stock_quantity": 1}]},
         read=("update.*.error.code",)),
    Step("a product created", "POST", "products", keep="product",
         body={"name": "Fidelity", "sku": f"FID-{STAMP}", "type": "simple", "regular_price": "9.90"},
         read=("sku", "type", "regular_price", "status")),
    Step("the product trashed", "DELETE", "products/{product}", read=("status",)),
    Step("its SKU used again", "POST", "products", read=("sku",),
         body={"name": "Fidelity again", "sku": f"FID-{STAMP}", "type": "simple", "regular_price": "9.90"}),
    Step("the order trashed", "DELETE", "orders/{order}", read=("status",)),
    Step("the trashed order deleted for good", "DELETE", "orders/{order}", params={"force": "true"}, read=("status",)),
    Step("a request with a wrong signature", "GET", "orders", signed=False),
)


class Target:
    def __init__(self, url: str, key: str, secret: str) -> None:
        api = f"{url.rstrip('/')}/wp-json/wc/v3/"
        self.http = httpx.AsyncClient(base_url=api, auth=OAuth1QueryAuth(url, key, secret), timeout=60)
        self.forged = httpx.AsyncClient(base_url=api, auth=OAuth1QueryAuth(url, key, "cs_wrong"), timeout=60)
        self.ids: dict[str, Any] = {"recent": (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")}

    async def run(self, step: Step) -> Outcome:
        http = self.http if step.signed else self.forged
        response = await http.request(step.method, self._fill(step.path), json=self._fill(step.body),
                                      params=self._fill(step.params))  # fmt: skip
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if step.keep and isinstance(payload, dict) and "id" in payload:
            self.ids[step.keep] = payload["id"]
        is_error = isinstance(payload, dict) and not response.is_success
        values = {path: _read(payload, path) for path in step.read}
        return Outcome(
            status=response.status_code,
            code=payload.get("code") if is_error else None,
            keys=_keys(payload),
            values={path: self._symbolic(_sorted(v) if step.unordered else v) for path, v in values.items()},
            headers={name: name in response.headers for name in step.headers},
        )

    def _symbolic(self, value: Any) -> Any:
        """Ids the scenario made read as their names ("{option}"): each target numbers its own."""
        if isinstance(value, list):
            return [self._symbolic(v) for v in value]
        names = {known: f"{{{name}}}" for name, known in self.ids.items() if isinstance(known, int)}
        return names.get(value, value) if isinstance(value, int) and not isinstance(value, bool) else value

    def _fill(self, value: Any) -> Any:
        if isinstance(value, str):
            for name, known in self.ids.items():
                if value == f"{{{name}}}":
                    return known
                value = value.replace(f"{{{name}}}", str(known))
            return value
        if isinstance(value, dict):
            return {k: self._fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._fill(v) for v in value]
        return value

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.forged.aclose()


def _keys(payload: Any) -> tuple[str, ...]:
    item = payload[0] if isinstance(payload, list) and payload else payload
    return tuple(sorted(item)) if isinstance(item, dict) else ()


def _sorted(values: Any) -> Any:
    return sorted(values, key=json.dumps) if isinstance(values, list) else values


def _read(payload: Any, path: str) -> Any:
    head, _, rest = path.partition(".")
    if head == "*":
        return [_read(item, rest) for item in payload] if isinstance(payload, list) else None
    if head == "present":
        return payload is not None
    if not isinstance(payload, dict):
        return None
    value = payload.get(head)
    return _read(value, rest) if rest else value


async def _run_scenario(target: Target) -> list[Outcome]:
    (tee,) = (await target.http.get("products", params={"sku": "TEE-CLASSIC"})).json()
    target.ids["tee"] = tee["id"]
    await target.http.put(f"products/{tee['id']}", json={"stock_quantity": 100})  # stock notes quote the level
    return [await target.run(step) for step in SCENARIO]


def _differences(sandbox: Outcome, real: Outcome) -> list[str]:
    found = []
    if (sandbox.status, sandbox.code) != (real.status, real.code):
        found.append(f"answer {sandbox.status} {sandbox.code or ''} vs {real.status} {real.code or ''}")
    if sandbox.keys != real.keys:
        missing, extra = sorted(set(real.keys) - set(sandbox.keys)), sorted(set(sandbox.keys) - set(real.keys))
        found.append(f"fields: sandbox lacks {len(missing)} {missing[:6]}, has {len(extra)} more {extra[:6]}")
    for path, value in real.values.items():
        if sandbox.values.get(path) != value:
            found.append(f"{path}: {json.dumps(sandbox.values.get(path))[:300]} vs {json.dumps(value)[:300]}")
    if sandbox.headers != real.headers:
        found.append(f"headers {sandbox.headers} vs {real.headers}")
    return found


async def sandbox_outcomes(generation: int) -> list[Outcome]:
    async with run_woocommerce_sandbox(SandboxConfig(generation=generation)) as sandbox:
        target = Target(sandbox.home_url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
        try:
            return await _run_scenario(target)
        finally:
            await target.aclose()


async def differences(expected: list[Outcome], store: RealStore) -> dict[str, list[str]]:
    """Step name → how the sandbox's answer differs from the real store's (empty: identical)."""
    await seed_demo_catalogue(store)
    target = Target(store.url, store.consumer_key, store.consumer_secret)
    try:
        outcomes = await _run_scenario(target)
    finally:
        await target.aclose()
    return {step.name: _differences(ours, theirs) for step, ours, theirs in zip(SCENARIO, expected, outcomes)}


async def main() -> dict:
    result = {}
    for name, release in RELEASES.items():
        store = start(release)
        found = await differences(await sandbox_outcomes(release.generation), store)
        print(f"{name} (WooCommerce {store.woocommerce}{', HPOS' if store.hpos else ''}):")
        for step, different in found.items():
            print(f"  {'≠' if different else '='} {step}" + "".join(f"\n      {d}" for d in different))
        identical = sum(not different for different in found.values())
        result[name] = {"steps": len(SCENARIO), "identical": identical,
                        "identical_pct": round(100 * identical / len(SCENARIO), 1)}  # fmt: skip
    write_result("sandbox_fidelity.json", result)
    return result


if __name__ == "__main__":
    asyncio.run(main())
