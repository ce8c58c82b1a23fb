"""The bench store as its REST API shows it, in WooCommerce's own field names: what a merchant posts that the
shopper cannot (coupons, fees, hand-set line totals), and what an auditor reads back (every order, every refund).

Read raw on purpose: the benchmark's numbers must not depend on the mapper they are checking.
"""
from typing import Any

import httpx

from adapters.oauth1 import OAuth1QueryAuth


class StoreRest:
    def __init__(self, store_url: str, consumer_key: str, consumer_secret: str) -> None:
        self._http = httpx.AsyncClient(base_url=store_url.rstrip("/") + "/wp-json/wc/v3/", timeout=30,
                                       auth=OAuth1QueryAuth(store_url, consumer_key, consumer_secret))  # fmt: skip

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._send("POST", "orders", body)

    async def orders(self) -> list[dict[str, Any]]:
        """Every order, oldest first."""
        return await self._all("orders", {"status": "any", "orderby": "id", "order": "asc"})

    async def refunds(self, order_id: int | str) -> list[dict[str, Any]]:
        return await self._all(f"orders/{order_id}/refunds", {"context": "edit"})

    async def _all(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        found, page, pages = [], 1, 1
        while page <= pages:
            response = await self._http.get(path, params={**params, "per_page": "100", "page": str(page)})
            response.raise_for_status()
            found += response.json()
            pages, page = int(response.headers.get("X-WP-TotalPages", "1")), page + 1
        return found

    async def _send(self, method: str, path: str, body: dict | None = None) -> Any:
        response = await self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()


def refunded_item(item: dict[str, Any]) -> int:
    """The order line a refund's line gives back (WooCommerce keeps it in the item's meta)."""
    return int(next(m["value"] for m in item["meta_data"] if m["key"] == "_refunded_item_id"))
