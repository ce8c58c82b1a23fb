"""What the merchant's ERP back office does by hand in Tryton, as code, for the tests, the demo and the benchmark.

Not part of the ERP port: the integration only reads the catalogue and stock. This drives Tryton over
JSON-RPC as the demo database's catalogue manager (`TrytonServer.catalogue_manager`), who may add
products, variants and price-list prices, and book goods received into stock. Products are goods,
salable, in units, in the standard-VAT accounting category, like the bootstrap's.
"""
from decimal import Decimal

from adapters.tryton_changes import ALL
from adapters.tryton_rpc import TrytonRpc
from config import ErpSettings
from embedded import demo_catalog

BATCH = 500
"""Records per `create` call: big enough to amortise a call, small enough for one short transaction."""
PRODUCT_BATCH = 50
"""Templates per `create` call: Tryton checks the new codes' uniqueness with one SQL condition nested once per
product, which SQLite's parser refuses from about 100 products (and Python's recursion limit from 300)."""


class ErpCatalogue:
    def __init__(self, rpc: TrytonRpc) -> None:
        self._rpc = rpc
        self._defaults: dict | None = None

    @classmethod
    def connect(cls, settings: ErpSettings) -> "ErpCatalogue":
        return cls(TrytonRpc(settings.url, settings.database, settings.user, settings.password,
                             timeout=settings.timeout_s))  # fmt: skip

    async def aclose(self) -> None:
        await self._rpc.aclose()

    async def add_product(
        self, sku: str, name: str, price: Decimal, variants: list[tuple[str, dict[str, str], Decimal]] | None = None
    ) -> None:
        """A simple product `sku`; with `variants` (sku, options, price), a template coded `sku` with one variant each.

        A variant's SKU must start with the template's (Tryton prefixes variant codes with the template code).
        """
        values = {**await self._template_defaults(), "name": name, "list_price": price}
        if not variants:
            values["products"] = [["create", [{"suffix_code": sku}]]]
        else:
            if strays := [v_sku for v_sku, _, _ in variants if not v_sku.startswith(sku)]:
                raise ValueError(f"variant SKUs {strays} do not start with the product SKU {sku!r}")
            attribute_set, keys = await self._attribute_set(variants)
            products = [
                {"suffix_code": v_sku.removeprefix(sku), "list_price": v_price,
                 "attributes": {keys[label]: value for label, value in options.items()}}
                for v_sku, options, v_price in variants
            ]  # fmt: skip
            values |= {"code": sku, "attribute_set": attribute_set, "products": [["create", products]]}
        await self._rpc.call("product.template", "create", [values])

    async def add_products_bulk(self, n: int, prefix: str, price: Decimal = Decimal("10.00")) -> list[str]:
        """`n` simple products `<prefix>00001`...; returns their SKUs."""
        defaults = await self._template_defaults()
        skus = [f"{prefix}{number:05d}" for number in range(1, n + 1)]
        for start in range(0, n, PRODUCT_BATCH):
            templates = [
                {**defaults, "name": f"Product {sku}", "list_price": price,
                 "products": [["create", [{"suffix_code": sku}]]]}
                for sku in skus[start : start + PRODUCT_BATCH]
            ]  # fmt: skip
            await self._rpc.call("product.template", "create", templates)
        return skus

    async def set_list_price(self, sku: str, price: Decimal) -> None:
        """On the template of a simple product; on the variant itself when the template has several."""
        await self._write_variant(sku, {"list_price": price})

    async def set_price_list_price(self, price_list: str, sku: str, price: Decimal) -> None:
        """The price list's line for this product, at a fixed price (created or rewritten)."""
        (price_list_id,) = await self._rpc.call("product.price_list", "search", [("name", "=", price_list)], 0, 1, None)
        product_id = (await self._product(sku))["id"]
        domain = [("price_list", "=", price_list_id), ("product", "=", product_id)]
        lines = await self._rpc.call("product.price_list.line", "search", domain, 0, None, None)
        formula = str(Decimal(price))
        if lines:
            await self._rpc.call("product.price_list.line", "write", lines, {"formula": formula})
        else:
            values = {"price_list": price_list_id, "product": product_id, "formula": formula}
            await self._rpc.call("product.price_list.line", "create", [values])

    async def receive_stock(self, quantities: dict[str, Decimal | int], warehouse: str = "WH") -> None:
        """Goods received from a supplier into the warehouse's storage: done moves, BATCH per call."""
        domain = [("type", "=", "warehouse"), ("code", "=", warehouse)]
        (site,) = await self._rpc.call("stock.location", "search_read", domain, 0, 1, None, ["storage_location"])
        (supplier,) = await self._rpc.call("stock.location", "search", [("type", "=", "supplier")], 0, 1, None)
        currency = await self._currency()
        skus = list(quantities)
        for start in range(0, len(skus), BATCH):
            chunk = skus[start : start + BATCH]
            found = await self._rpc.call("product.product", "search_read", [("code", "in", chunk)], 0, None, None,
                                         ["code", "default_uom"])  # fmt: skip
            products = {row["code"]: row for row in found}
            if missing := [sku for sku in chunk if sku not in products]:
                raise ValueError(f"unknown SKUs {missing}")
            moves = [
                {"product": products[sku]["id"], "unit": products[sku]["default_uom"],
                 "quantity": float(quantities[sku]), "from_location": supplier,
                 "to_location": site["storage_location"], "unit_price": Decimal(0), "currency": currency}
                for sku in chunk
            ]  # fmt: skip
            move_ids = await self._rpc.call("stock.move", "create", moves)
            await self._rpc.call("stock.move", "do", move_ids)

    async def deactivate(self, sku: str) -> None:
        """The variant; for a simple product, the whole template (what the product form's Active box does)."""
        await self._write_variant(sku, {"active": False})

    async def _write_variant(self, sku: str, values: dict) -> None:
        """Write the template of a simple product, or the variant alone when its template has others."""
        product = await self._product(sku)
        template = product["template"]
        siblings = await self._rpc.call("product.product", "search_count", [("template", "=", template)], context=ALL)
        if siblings == 1:
            await self._rpc.call("product.template", "write", [template], values)
        else:
            await self._rpc.call("product.product", "write", [product["id"]], values)

    async def _product(self, sku: str) -> dict:
        found = await self._rpc.call("product.product", "search_read", [("code", "=", sku)], 0, 1, None,
                                     ["template"], context=ALL)  # fmt: skip
        if not found:
            raise ValueError(f"no product {sku!r} in the ERP")
        return found[0]

    async def _template_defaults(self) -> dict:
        if self._defaults is None:
            standard = [("accounting", "=", True), ("name", "=", demo_catalog.TAX_RATES[0].name)]
            (category,) = await self._rpc.call("product.category", "search", standard, 0, 1, None)
            (unit,) = await self._rpc.call("product.uom", "search", [("name", "=", "Unit")], 0, 1, None)
            self._defaults = {"type": "goods", "salable": True, "default_uom": unit, "sale_uom": unit,
                              "account_category": category}  # fmt: skip
        return self._defaults

    async def _currency(self) -> int:
        (company,) = await self._rpc.call("company.company", "search", [], 0, 1, None)
        (row,) = await self._rpc.call("company.company", "read", [company], ["currency"])
        return row["currency"]

    async def _attribute_set(self, variants: list[tuple[str, dict[str, str], Decimal]]) -> tuple[int, dict[str, str]]:
        """The attribute set of the variants' option labels, every attribute knowing every value used."""
        values: dict[str, list[str]] = {}
        for _, options, _ in variants:
            for label, value in options.items():
                values[label] = list(dict.fromkeys([*values.get(label, []), value]))
        keys = {label: label.strip().lower().replace(" ", "_") for label in values}
        attribute_ids = [await self._attribute(keys[label], label, values[label]) for label in values]
        name = " / ".join(values)
        found = await self._rpc.call("product.attribute.set", "search", [("name", "=", name)], 0, 1, None)
        if found:
            await self._rpc.call("product.attribute.set", "write", found, {"attributes": [["add", attribute_ids]]})
            return found[0], keys
        (created,) = await self._rpc.call("product.attribute.set", "create",
                                          [{"name": name, "attributes": [["add", attribute_ids]]}])  # fmt: skip
        return created, keys

    async def _attribute(self, key: str, label: str, values: list[str]) -> int:
        """A selection attribute whose keys and labels are the option values."""
        found = await self._rpc.call("product.attribute", "search_read", [("name", "=", key)], 0, 1, None,
                                     ["selection"])  # fmt: skip
        known = [line.split(":", 1)[0].strip() for line in (found[0]["selection"] or "").splitlines()] if found else []
        selection = "\n".join(f"{value}:{value}" for value in dict.fromkeys(known + values))
        if not found:
            (created,) = await self._rpc.call("product.attribute", "create",
                                              [{"name": key, "string": label, "type_": "selection",
                                                "selection": selection}])  # fmt: skip
            return created
        if set(values) - set(known):
            await self._rpc.call("product.attribute", "write", [found[0]["id"]], {"selection": selection})
        return found[0]["id"]
