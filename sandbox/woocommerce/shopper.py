"""A shopper and a merchant acting on a store through its REST API: place, pay and cancel orders,
edit stock by hand, delete products and restore them from the trash.

Used by the demo, the end-to-end tests and the benchmarks. It speaks WooCommerce's own
field names on purpose: it plays the storefront, not retail-sync. `set_batch_limit` goes through
the sandbox's control surface (what a filter plugin would do on a real store).
"""
from decimal import Decimal
from typing import Any

import httpx

from adapters.oauth1 import OAuth1QueryAuth

CUSTOMERS = {
    "zoe": {
        "first_name": "Zoë", "last_name": "Müller", "company": "", "address_1": "Große Straße 12",
        "address_2": "", "city": "Köln", "state": "", "postcode": "50667", "country": "DE",
        "email": "zoe.mueller@example.de", "phone": "+49 221 123456",
    },
    "lukasz": {
        "first_name": "Łukasz", "last_name": "Wiśniewski", "company": "Kawiarnia Łódź", "address_1": "ul. Piotrkowska 104",
        "address_2": "lok. 3", "city": "Łódź", "state": "", "postcode": "90-926", "country": "PL",
        "email": "lukasz@example.pl", "phone": "",
    },
}  # fmt: skip


class Shopper:
    def __init__(self, store_url: str, consumer_key: str, consumer_secret: str) -> None:
        auth = (
            httpx.BasicAuth(consumer_key, consumer_secret)
            if store_url.startswith("https://")
            else OAuth1QueryAuth(store_url, consumer_key, consumer_secret)
        )
        self._http = httpx.AsyncClient(base_url=store_url.rstrip("/") + "/wp-json/wc/v3/", auth=auth, timeout=30)
        self._control = httpx.AsyncClient(base_url=store_url.rstrip("/") + "/__sandbox/", timeout=30)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._control.aclose()

    async def place_order(
        self,
        lines: list[tuple[str, int]],
        *,
        paid: bool,
        customer: str = "zoe",
        customer_id: int = 0,
        shipping_total: str = "4.90",
    ) -> dict[str, Any]:
        """A checkout: lines as (SKU, quantity); `paid` is what the payment gateway reports."""
        address = CUSTOMERS[customer]
        body = {
            "payment_method": "stripe" if paid else "bacs",
            "payment_method_title": "Credit card (Stripe)" if paid else "Direct bank transfer",
            "set_paid": paid,
            "customer_id": customer_id,
            "billing": address,
            "shipping": {k: v for k, v in address.items() if k != "email"},
            "line_items": [await self._line(sku, quantity) for sku, quantity in lines],
            "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat rate", "total": shipping_total}],
        }
        if paid:
            body["transaction_id"] = f"ch_{abs(hash(tuple(lines))) % 10**10}"
        return await self._send("POST", "orders", body)

    async def pay(self, order_id: int) -> dict[str, Any]:
        return await self._send("PUT", f"orders/{order_id}", {"set_paid": True, "transaction_id": f"tx-{order_id}"})

    async def cancel(self, order_id: int) -> dict[str, Any]:
        return await self._send("PUT", f"orders/{order_id}", {"status": "cancelled"})

    async def mark_refunded(self, order_id: int | str) -> dict[str, Any]:
        """The merchant sets the order to Refunded: WooCommerce refunds the rest without a gateway call."""
        return await self._send("PUT", f"orders/{order_id}", {"status": "refunded"})

    async def product(self, sku: str) -> dict[str, Any]:
        (found,) = await self._send("GET", "products", params={"sku": sku})
        return found

    async def listing(self, sku: str) -> dict[str, Any] | None:
        """The product or variation with exactly this SKU as the REST API shows it; None once it is gone."""
        found = await self._send("GET", "products", params={"sku": sku})
        return next((product for product in found if product["sku"] == sku), None)

    async def set_stock(self, sku: str, quantity: int) -> dict[str, Any]:
        """The merchant types a stock level in the product editor (which turns stock management on)."""
        return await self._send("PUT", await self._path(sku), {"manage_stock": True, "stock_quantity": quantity})

    async def delete_product(self, sku: str, *, force: bool = True) -> dict[str, Any]:
        """The merchant deletes a product or variation for good (`force=False`: moves it to the trash)."""
        return await self._send("DELETE", await self._path(sku), params={"force": str(force).lower()})

    async def restore_product(self, product_id: int) -> dict[str, Any]:
        """The merchant restores a product from the trash; WordPress (5.6+) brings it back as a draft."""
        return await self._send("PUT", f"products/{product_id}", {"status": "draft"})

    async def set_batch_limit(self, limit: int | None) -> None:
        """Items one batch request may carry; None restores the store's configured limit (100 by default)."""
        if limit is None:
            response = await self._control.delete("batch-limit")
        else:
            response = await self._control.post("batch-limit", json={"limit": limit})
        response.raise_for_status()

    async def lock_sku(self, sku: str, message: str) -> None:
        """A plugin refuses every save of this product (None of its writes go through) until `unlock_skus`."""
        (await self._control.post("locked-skus", json={"sku": sku, "message": message})).raise_for_status()

    async def unlock_skus(self) -> None:
        (await self._control.delete("locked-skus")).raise_for_status()

    async def get_order(self, order_id: int | str) -> dict[str, Any]:
        return await self._send("GET", f"orders/{order_id}")

    async def order_notes(self, order_id: int | str) -> list[dict[str, Any]]:
        return await self._send("GET", f"orders/{order_id}/notes")

    async def add_product(self, sku: str, name: str, price: Decimal, stock: int = 10) -> dict[str, Any]:
        """The merchant lists a product (idempotent by SKU)."""
        existing = await self._send("GET", "products", params={"sku": sku})
        if existing:
            return existing[0]
        body = {"name": name, "sku": sku, "type": "simple", "regular_price": str(price),
                "manage_stock": True, "stock_quantity": stock}  # fmt: skip
        return await self._send("POST", "products", body)

    async def refund_line(self, order_id: int | str, line_item: dict[str, Any], quantity: int,
                          reason: str = "Damaged in transit") -> dict[str, Any]:  # fmt: skip
        """The merchant refunds `quantity` of one order line in the admin: its share of the total and of each tax."""
        share = Decimal(quantity) / Decimal(line_item["quantity"])
        taxes = [{"id": tax["id"], "refund_total": str((Decimal(tax["total"]) * share).quantize(Decimal("0.01")))}
                 for tax in line_item["taxes"] if tax.get("total")]  # fmt: skip
        body = {"reason": reason, "api_refund": False, "line_items": [{
            "id": line_item["id"], "quantity": quantity,
            "refund_total": str((Decimal(line_item["total"]) * share).quantize(Decimal("0.01"))),
            "refund_tax": taxes}]}  # fmt: skip
        return await self._send("POST", f"orders/{order_id}/refunds", body)

    async def edit_webhook(self, webhook_id: str | int, **fields: str) -> dict[str, Any]:
        """The merchant edits a webhook in WooCommerce → Settings → Advanced → Webhooks."""
        return await self._send("PUT", f"webhooks/{webhook_id}", fields)

    async def _existing(self, sku: str) -> dict[str, Any]:
        product = await self.listing(sku)
        if product is None:
            raise LookupError(f"no product with SKU {sku!r} in the store")
        return product

    async def _path(self, sku: str) -> str:
        """Where the product is written: a variation only through its parent (contract §11)."""
        product = await self._existing(sku)
        if product["type"] == "variation":
            return f"products/{product['parent_id']}/variations/{product['id']}"
        return f"products/{product['id']}"

    async def _line(self, sku: str, quantity: int) -> dict[str, Any]:
        product = await self._existing(sku)
        if product.get("type") == "variation":
            return {"product_id": product["parent_id"], "variation_id": product["id"], "quantity": quantity}
        return {"product_id": product["id"], "quantity": quantity}

    async def _send(self, method: str, path: str, body: dict | None = None, params: dict | None = None) -> Any:
        response = await self._http.request(method, path, json=body, params=params)
        response.raise_for_status()
        return response.json()
