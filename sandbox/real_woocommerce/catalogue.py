"""The demo catalogue in a real store, as a merchant would enter it through the REST API: tax rates, simple
products and the variable hoodie with its sizes. Idempotent by tax rate name and SKU, so every start of a
kept lab may run it."""
from typing import Any

import httpx

from adapters.oauth1 import OAuth1QueryAuth
from embedded import demo_catalog
from sandbox.real_woocommerce.lab import RealStore

SIZE = "Size"


async def seed_demo_catalogue(store: RealStore) -> None:
    auth = OAuth1QueryAuth(store.url, store.consumer_key, store.consumer_secret)
    async with httpx.AsyncClient(base_url=f"{store.url}/wp-json/wc/v3/", auth=auth, timeout=60) as http:
        await _tax_rates(http)
        for parent_sku, name in demo_catalog.VARIABLE_PARENTS.items():
            await _variable_product(http, parent_sku, name)
        for product in demo_catalog.PRODUCTS:
            if product.parent_sku is None and not await _get(http, "products", sku=product.sku):
                await _send(http, "POST", "products", {
                    "name": product.name, "sku": product.sku, "type": "simple", "regular_price": str(product.price),
                    "tax_class": product.tax_class, "manage_stock": True, "stock_quantity": product.stock,
                })  # fmt: skip


async def _tax_rates(http: httpx.AsyncClient) -> None:
    existing = {rate["name"] for rate in await _get(http, "taxes", per_page=100)}
    for rate in demo_catalog.TAX_RATES:
        if rate.name not in existing:
            await _send(http, "POST", "taxes", {"name": rate.name, "rate": str(rate.percent),
                                                "class": rate.tax_class or "standard", "shipping": True})  # fmt: skip


async def _variable_product(http: httpx.AsyncClient, parent_sku: str, name: str) -> None:
    options = [p for p in demo_catalog.PRODUCTS if p.parent_sku == parent_sku]
    sizes = [p.sku.removeprefix(f"{parent_sku}-") for p in options]
    found = await _get(http, "products", sku=parent_sku)
    parent = found[0] if found else await _send(http, "POST", "products", {
        "name": name, "sku": parent_sku, "type": "variable",
        "attributes": [{"name": SIZE, "options": sizes, "variation": True, "visible": True}],
    })  # fmt: skip
    for option, size in zip(options, sizes):
        if not await _get(http, "products", sku=option.sku):
            await _send(http, "POST", f"products/{parent['id']}/variations", {
                "sku": option.sku, "regular_price": str(option.price), "tax_class": option.tax_class,
                "manage_stock": True, "stock_quantity": option.stock, "attributes": [{"name": SIZE, "option": size}],
            })  # fmt: skip


async def _get(http: httpx.AsyncClient, path: str, **params) -> Any:
    return await _send(http, "GET", path, params=params)


async def _send(http: httpx.AsyncClient, method: str, path: str, body: dict | None = None,
                params: dict | None = None) -> Any:  # fmt: skip
    response = await http.request(method, path, json=body, params=params)
    response.raise_for_status()
    return response.json()
