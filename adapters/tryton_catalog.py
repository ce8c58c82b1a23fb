"""The catalogue as Tryton defines it: goods templates and their variants, with list and price-list prices.

Shape and SKUs. A template with one variant (`product.product`) and no attribute set is a simple
product whose SKU is the variant's code. A template with several variants (deactivated ones count,
so deactivating one does not turn the product into another type) or with an attribute set is a
variable product: its SKU is the template's code (Tryton prefixes every variant code with it), or
`T<template id>` when the template has none; each variant is an option with its own code as SKU and
`options` from its attributes (`product_attribute`: label → value label, e.g. {"Size": "M"}).
Variants without a code cannot be listed anywhere and are left out.

Prices, tax excluded as Tryton stores them: the regular price is the variant's `list_price_used` (its
own list price, else the template's); the sale price is what the named price list gives that variant,
when lower. A variable product's own prices are its lowest regular price (the store shows a range).
Price-list prices are read the way `sale_price_list` prices a sale line: `sale_price_uom` under a
`price_list` context (`product.price_list.compute` is not exposed over RPC).

Active: the variant and its template are active and salable, and the variant has a list price. Changes
list inactive ones too so a store can hide them; a full read (no cursor) lists what is on sale.
"""
import datetime as dt
import json
from decimal import Decimal

from adapters.errors import BusinessError
from adapters.tryton_changes import ALL, OVERLAP, Cursor, advance, changed, latest, merge, pages
from adapters.tryton_rpc import SYSTEM, TrytonRpc
from canonical.inventory import CatalogChanges, CatalogProduct, CatalogVariant

GOODS = ("type", "=", "goods")
ON_SALE = [GOODS, ("salable", "=", True)]
TEMPLATES = 500
ANY_PRODUCT = None
EVERY_TEMPLATE = 0
"""A pseudo template id (ids start at 1) standing for a change to all: the cursor tracks it like the rest."""
TEMPLATE_FIELDS = ["name", "code", "active", "salable", "attribute_set"]
VARIANT_FIELDS = ["template", "code", "active", "list_price_used", "attributes", "description"]


async def catalog_changes(rpc: TrytonRpc, cursor: str | None, price_list: str | None) -> CatalogChanges:
    """Goods templates created or changed since `cursor` (template, variant or, with `price_list`, its lines)."""
    price_list_id = await _price_list(rpc, price_list) if price_list else None
    previous = Cursor.decode(cursor) if cursor else None
    if previous is None:
        since = max([await latest(rpc, model) for model in _watched(price_list_id)]) - OVERLAP
    else:
        since = previous.since - OVERLAP
    report, following = advance(previous, await _changed_templates(rpc, since, price_list_id))
    if previous is None:
        report = {row["id"] async for row in pages(rpc, "product.template", ON_SALE, ["id"])}
    elif EVERY_TEMPLATE in report:
        report |= {row["id"] async for row in pages(rpc, "product.template", ON_SALE, ["id"])}
        report.discard(EVERY_TEMPLATE)
    products = await _products(rpc, sorted(report), price_list_id)
    return CatalogChanges(products=tuple(products), cursor=following.encode())


def _watched(price_list_id: int | None) -> list[str]:
    priced = ["product.price_list", "product.price_list.line"] if price_list_id else []
    return ["product.template", "product.product", *priced]


async def _changed_templates(rpc: TrytonRpc, since: dt.datetime, price_list_id: int | None) -> dict[int, dt.datetime]:
    """Template → newest change since `since`; EVERY_TEMPLATE for a change that reprices all of them."""
    window = merge(
        await changed(rpc, "product.template", "id", since, [GOODS]),
        await changed(rpc, "product.product", "template", since, [GOODS]),
    )
    if price_list_id is not None:
        lines = [("price_list", "=", price_list_id)]
        window = merge(window, await changed(rpc, "product.price_list.line", "product.template", since, lines))
        # A line for a category or every product, or the price list itself (lines deleted, base price): all.
        for model, domain in (
            ("product.price_list.line", [*lines, ("product", "=", None)]),
            ("product.price_list", [("id", "=", price_list_id)]),
        ):
            if stamps := (await changed(rpc, model, "id", since, domain)).values():
                window = merge(window, {EVERY_TEMPLATE: max(stamps)})
    return window


async def _products(rpc: TrytonRpc, template_ids: list[int], price_list_id: int | None) -> list[CatalogProduct]:
    attributes = await _attributes(rpc)
    priced = await _priced(rpc, price_list_id) if price_list_id else set()
    products = []
    for start in range(0, len(template_ids), TEMPLATES):
        chunk = template_ids[start : start + TEMPLATES]
        templates = await rpc.call("product.template", "search_read", [("id", "in", chunk), GOODS], 0, None,
                                   [("id", "ASC")], TEMPLATE_FIELDS, context=ALL)  # fmt: skip
        rows = await rpc.call("product.product", "search_read", [("template", "in", chunk)], 0, None,
                              [("id", "ASC")], VARIANT_FIELDS, context=ALL)  # fmt: skip
        if on_list := [row["id"] for row in rows if ANY_PRODUCT in priced or row["id"] in priced]:
            context = {**ALL, "price_list": price_list_id}
            prices = await rpc.call("product.product", "read", on_list, ["sale_price_uom"], context=context)
            sale_prices = {row["id"]: row["sale_price_uom"] for row in prices}
            rows = [{**row, "sale_price_uom": sale_prices.get(row["id"])} for row in rows]
        variants: dict[int, list[dict]] = {}
        for row in rows:
            variants.setdefault(row["template"], []).append(row)
        for template in templates:
            if product := _product(template, variants.get(template["id"], []), attributes):
                products.append(product)
    return products


async def _priced(rpc: TrytonRpc, price_list_id: int) -> set[int | None]:
    """The products the price list has a line for (ANY_PRODUCT: a line for a category or all of them).

    Pricing a product costs ~3 ms in Tryton, so only these are priced: any other gets no price from the list.
    """
    lines = await rpc.call("product.price_list.line", "search_read", [("price_list", "=", price_list_id)], 0, None,
                           None, ["product"])  # fmt: skip
    return {line["product"] for line in lines}


def _product(template: dict, rows: list[dict], attributes: dict[str, tuple[str, dict]]) -> CatalogProduct | None:
    on_sale = template["active"] and template["salable"]
    variants = [_variant(template, row, attributes, on_sale) for row in rows if row["code"]]
    if not variants:
        return None
    if len(rows) == 1 and template["attribute_set"] is None:
        (only,) = variants
        return CatalogProduct(sku=only.sku, name=template["name"], regular_price=only.regular_price,
                              sale_price=only.sale_price, active=only.active, description=only.description)  # fmt: skip
    return CatalogProduct(
        sku=template["code"] or f"T{template['id']}",
        name=template["name"],
        regular_price=min(v.regular_price for v in variants),
        active=any(v.active for v in variants),
        variants=tuple(variants),
        description=variants[0].description,
    )


def _variant(template: dict, row: dict, attributes: dict[str, tuple[str, dict]], on_sale: bool) -> CatalogVariant:
    options = {}
    for name, value in (row["attributes"] or {}).items():
        label, values = attributes.get(name, (name, {}))
        options[label] = values.get(value, str(value))
    regular = row["list_price_used"]
    listed = row.get("sale_price_uom")
    return CatalogVariant(
        sku=row["code"],
        name=" - ".join([template["name"], *options.values()]) if options else template["name"],
        options=options,
        regular_price=regular or Decimal(0),
        sale_price=listed if regular and listed is not None and listed < regular else None,
        active=bool(on_sale and row["active"] and regular is not None),
        description=row.get("description") or "",
    )


async def _attributes(rpc: TrytonRpc) -> dict[str, tuple[str, dict]]:
    """Attribute key → (label, {value key: value label})."""
    rows = await rpc.call("product.attribute", "search_read", [], 0, None, None, ["name", "string", "selection_json"])
    return {row["name"]: (row["string"], dict(json.loads(row["selection_json"] or "[]"))) for row in rows}


async def _price_list(rpc: TrytonRpc, name: str) -> int:
    found = await rpc.call("product.price_list", "search", [("name", "=", name)], 0, 1, None)
    if not found:
        raise BusinessError(SYSTEM, f"No price list named {name!r} in the ERP: create it, then retry")
    return found[0]
