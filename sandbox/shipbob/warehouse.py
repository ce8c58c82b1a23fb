"""The warehouse floor, driven the way ShipBob's sandbox lets a developer drive it.

Shipping and delivery go through ShipBob's own `/simulate/shipment`; picking, exceptions,
restocks, the returns dock and field-reported quirks through the sandbox's control surface. Used by the demo,
the end-to-end tests and the benchmarks; it speaks ShipBob's field names on purpose.
"""
from typing import Any

import httpx

from sandbox.shipbob.config import API_VERSION

ORDER_TOPICS = ["order.shipped", "order.shipment.delivered", "order.shipment.exception",
                "order.shipment.on_hold", "order.shipment.cancelled"]  # fmt: skip
RETURN_TOPICS = ["return.created", "return.updated", "return.completed"]


class Warehouse:
    def __init__(self, url: str, token: str, channel_id: int) -> None:
        headers = {"Authorization": f"Bearer {token}", "shipbob_channel_id": str(channel_id)}
        self._api = httpx.AsyncClient(base_url=f"{url}/{API_VERSION}/", headers=headers, timeout=30)
        self._control = httpx.AsyncClient(base_url=f"{url}/__sandbox/", timeout=30)

    async def aclose(self) -> None:
        await self._api.aclose()
        await self._control.aclose()

    async def subscribe(self, url: str, secret: str, topics: list[str] = ORDER_TOPICS) -> dict[str, Any]:
        """What a merchant does once in ShipBob's portal (or through the API)."""
        return await self._send(self._api, "POST", "webhook", {"topics": topics, "url": url, "secret": secret})

    async def subscriptions(self) -> list[dict[str, Any]]:
        return (await self._send(self._api, "GET", "webhook"))["items"]

    async def orders(self, reference_prefix: str) -> list[dict[str, Any]]:
        """The 3PL orders whose reference starts with `reference_prefix` (e.g. `store:order:`)."""
        found = await self._send(self._api, "GET", "order", params={"Limit": 250, "SortOrder": "Newest"})
        return [order for order in found if order["reference_id"].startswith(reference_prefix)]

    async def shipments(self, reference_prefix: str) -> list[dict[str, Any]]:
        """One request: the order list carries each order's shipments (the 3PL's rate limit counts)."""
        return [shipment for order in await self.orders(reference_prefix) for shipment in order["shipments"]]

    async def ship(self, shipment_id: int, *, deliver: bool = False) -> dict[str, Any]:
        simulation: dict[str, Any] = {"action": "ShipOrder"}
        if deliver:
            simulation["next"] = {"action": "DeliverOrder", "delay": 1}
        return await self._send(self._api, "POST", "simulate/shipment",
                                {"shipment_id": shipment_id, "simulation": simulation})  # fmt: skip

    async def pick(self, shipment_id: int) -> dict[str, Any]:
        return await self._send(self._control, "POST", f"shipments/{shipment_id}/pick")

    async def raise_exception(self, shipment_id: int, detail: str) -> dict[str, Any]:
        """E.g. `InvalidAddress` (on hold) or `OutOfStock` (exception)."""
        return await self._send(self._control, "POST", f"shipments/{shipment_id}/exception", {"detail": detail})

    async def restock(self, center_id: int, sku: str, quantity: int) -> dict[str, Any]:
        return await self._send(self._control, "POST", "restock",
                                {"center_id": center_id, "sku": sku, "quantity": quantity})  # fmt: skip

    async def returns(self, reference_prefix: str) -> list[dict[str, Any]]:
        """The returns whose RMA reference starts with `reference_prefix`, newest first."""
        found, params = [], {"Limit": 250}
        page: dict[str, Any] = await self._send(self._api, "GET", "return", params=params)
        while True:
            found += [rma for rma in page["items"] if rma["reference_id"].startswith(reference_prefix)]
            if not page["next"]:
                return found
            page = await self._send(self._api, "GET", page["next"])

    async def receive_return(self, return_id: int, processed: list[tuple[str | int, int, str]]) -> dict[str, Any]:
        """The box arrives, its units are sorted — `(SKU or inventory id, units, Restock|Dispose|Quarantine)`,
        fewer than expected if the customer kept some — and the return is closed; the completed return."""
        items = [{"inventory_id": await self._inventory_id(item), "quantity_processed": quantity, "action": action}
                 for item, quantity, action in processed]
        await self._send(self._control, "POST", f"returns/{return_id}/arrive")
        if items:
            await self._send(self._control, "POST", f"returns/{return_id}/process", {"items": items})
        return await self._send(self._control, "POST", f"returns/{return_id}/complete")

    async def _inventory_id(self, sku_or_id: str | int) -> int:
        if isinstance(sku_or_id, int):
            return sku_or_id
        page = await self._send(self._api, "GET", "inventory-level", params={"SearchBy": sku_or_id, "PageSize": 250})
        return next(item["inventory_id"] for item in page["items"] if item["sku"] == sku_or_id)

    async def refuse_requests(self, count: int, retry_after: int) -> None:
        """The 3PL answers the next `count` API calls with 429 and `x-retry-after` (a busy host)."""
        await self._send(self._control, "POST", "faults", {"count": count, "retry_after": retry_after})

    async def clear_refusals(self) -> None:
        await self._send(self._control, "DELETE", "faults")

    async def quirks(self, **switches: bool) -> dict[str, Any]:
        return await self._send(self._control, "POST", "quirks", switches)

    async def _send(self, client: httpx.AsyncClient, method: str, path: str, body: dict | None = None,
                    params: dict | None = None) -> Any:  # fmt: skip
        response = await client.request(method, path, json=body, params=params)
        response.raise_for_status()
        return response.json() if response.content else None
