"""The store order as a Tryton sale that charges exactly what the store charged, confirmed in one step.

Lines are priced as the store charged them (unit price = line total ÷ quantity) with the ERP taxes
at the store's rates. Tryton computes the amounts again with its own rounding, so `place` only
confirms when they equal the store's to the cent (`canonical.sale_amounts`); otherwise nothing is
kept, and the difference is either settled by adjustment lines, as the store's policy allows, or
parks the order with both sides' amounts before anything is confirmed.
"""
from decimal import Decimal

from adapters.errors import BusinessError
from adapters.tryton_rpc import SYSTEM, TrytonRpc
from canonical import Order, TaxAmount
from canonical.sale_amounts import Adjustment, Amounts, AmountsPolicy, LineAmount, TaxRounding, compare, side_by_side
from canonical.sale_amounts import store_amounts
from config import ErpSettings

PRICE_DIGITS = Decimal("0.0001")  # sale.line unit_price precision
ERP_ROUNDING = {"document": TaxRounding.TOTAL, "line": TaxRounding.LINE}


async def place_sale(
    rpc: TrytonRpc, settings: ErpSettings, shop: int, key: str, order: Order, header: dict, policy: AmountsPolicy
) -> dict:
    """Create and confirm the sale of `order` (header: party, addresses, payment term) if its amounts are the
    store's, after adjustment lines where `policy` tolerates the difference: the sale's summary."""
    sale = _Sale(rpc, settings, order)
    values = {**header, **await sale.header(), "lines": await sale.lines()}
    store = store_amounts(order, sale.cent)
    answer = await rpc.call("retail_sync.sale", "place", shop, key, values, sale.expected(store))
    if answer["placed"]:
        return answer["sale"]
    erp = sale.amounts(answer["amounts"])
    lines = [LineAmount(label, quantity, total, amount)
             for (label, quantity, total), amount in zip(sale.labels, answer["line_amounts"])]  # fmt: skip
    rounding = ERP_ROUNDING.get(answer["tax_rounding"], TaxRounding.TOTAL)
    comparison = compare(store, erp, lines, tolerance=policy.tolerance, store_rounding=policy.tax_rounding,
                         erp_rounding=rounding)  # fmt: skip
    if comparison.difference:
        raise BusinessError(
            SYSTEM,
            f"The ERP sale would not charge what order {order.number} charged: {comparison.reason} Correct the "
            "order or the ERP's taxes, or let the store settle such rounding (erp_amounts.tolerance), then retry",
        )
    values["lines"] += await sale.adjustment_lines(comparison.adjustments)
    answer = await rpc.call("retail_sync.sale", "place", shop, key, values, sale.expected(store))
    if not answer["placed"]:
        raise BusinessError(
            SYSTEM,
            f"Adjustment lines did not settle the ERP sale of order {order.number}: "
            f"{side_by_side(store, sale.amounts(answer['amounts']))}; correct it in the ERP, then retry",
        )
    return answer["sale"]


class _Sale:
    """What the sale's values need from the ERP: products by SKU, taxes by rate, the currency."""

    def __init__(self, rpc: TrytonRpc, settings: ErpSettings, order: Order) -> None:
        self._rpc = rpc
        self._settings = settings
        self._order = order
        self._taxes: dict[Decimal, int] = {}
        self.cent = Decimal("0.01")
        self.labels: list[tuple[str, Decimal, Decimal]] = []

    async def header(self) -> dict:
        order = self._order
        found = await self._rpc.call("currency.currency", "search_read", [("code", "=", order.currency)], 0, 1, None,
                                     ["rounding"])  # fmt: skip
        if not found:
            raise BusinessError(SYSTEM, f"Unknown currency {order.currency}: add it to the ERP, then retry")
        self.cent = found[0]["rounding"]
        return {
            "reference": order.number,
            "description": f"Order {order.number} from store {order.store_id}",
            "comment": order.customer_note or None,
            "sale_date": order.created_at.date(),
            "currency": found[0]["id"],
        }

    async def lines(self) -> list[dict]:
        """Lines priced as the store charged them, with the ERP taxes at the store's rates."""
        order, settings = self._order, self._settings
        codes = {line.sku for line in order.lines if line.sku}
        codes |= {settings.shipping_product_code} if order.shipping_lines else set()
        codes |= {settings.fee_product_code} if order.fee_lines else set()
        products = await self._products(codes)
        self._taxes = await _taxes_by_rate(self._rpc)
        lines = []
        for number, item in enumerate(order.lines, start=1):
            where = f"line {number} ({item.name})"
            if not item.sku:
                raise BusinessError(SYSTEM, f"Missing SKU on {where}: set the SKU in the store, then retry")
            lines.append(self._line(products, item.sku, item.quantity, item.total.amount, item.name, item.taxes, where))
        for shipping in order.shipping_lines:
            where = f"shipping line {shipping.method_title!r}"
            lines.append(self._line(products, settings.shipping_product_code, Decimal(1), shipping.total.amount,
                                    shipping.method_title, shipping.taxes, where))  # fmt: skip
        for fee in order.fee_lines:
            lines.append(self._line(products, settings.fee_product_code, Decimal(1), fee.total.amount, fee.name,
                                    fee.taxes, f"fee line {fee.name!r}"))  # fmt: skip
        return lines

    async def adjustment_lines(self, adjustments: tuple[Adjustment, ...]) -> list[dict]:
        code = self._settings.adjustment_product_code
        product = (await self._products({code})).get(code)
        if product is None:
            raise BusinessError(SYSTEM, f"No adjustment product {code!r} in the ERP: add it as a service, then retry")
        return [
            {
                "type": "line",
                "product": product["id"],
                "unit": product["default_uom"],
                "quantity": 1.0,
                "unit_price": adjustment.amount,
                "description": f"Rounding adjustment to order {self._order.number}",
                "taxes": [self._taxes[adjustment.rate / 100]] if adjustment.rate else [],
            }
            for adjustment in adjustments
        ]

    def expected(self, store: Amounts) -> dict:
        """The store's amounts in Tryton's terms: tax per ERP tax id."""
        taxes = {str(self._taxes[rate / 100]): amount for rate, amount in store.taxes.items()}
        return {"untaxed": store.untaxed, "taxes": taxes, "total": store.total}

    def amounts(self, erp: dict) -> Amounts:
        rates = {str(tax_id): rate * 100 for rate, tax_id in self._taxes.items()}
        taxes = {rates[tax_id].normalize(): amount for tax_id, amount in erp["taxes"].items()}
        return Amounts(untaxed=erp["untaxed"], taxes=taxes, total=erp["total"])

    def _line(self, products: dict, code: str, quantity: Decimal, total: Decimal, label: str,
              taxes: tuple[TaxAmount, ...], where: str) -> dict:  # fmt: skip
        product = products.get(code)
        if product is None:
            raise BusinessError(SYSTEM, f"Unknown SKU {code!r} on {where}: add the product to the ERP, then retry")
        self.labels.append((f"{where[0].upper()}{where[1:]}", quantity, total))
        unit_price = total / quantity if quantity else Decimal(0)
        return {
            "type": "line",
            "product": product["id"],
            "unit": product["default_uom"],
            "quantity": float(quantity),
            "unit_price": unit_price.quantize(PRICE_DIGITS),
            "description": label,
            "taxes": self._tax_ids(taxes, where),
        }

    def _tax_ids(self, amounts: tuple[TaxAmount, ...], where: str) -> list[int]:
        """The ERP taxes at the rates the store charged; a zero amount at a non-zero rate did not apply."""
        ids = []
        for amount in amounts:
            rate = self._order.tax_rate(amount.rate_id)
            if rate is None:
                raise BusinessError(
                    SYSTEM, f"Tax rate {amount.rate_id!r} on {where} is not among the order's tax rates"
                )
            if not amount.amount.amount and rate.percent:
                continue
            tax_id = self._taxes.get(rate.percent / 100)
            if tax_id is None:
                raise BusinessError(
                    SYSTEM,
                    f"No ERP tax at {rate.percent.normalize()}% for {where}: add a customer tax at that rate, "
                    "then retry",
                )
            ids.append(tax_id)
        return ids

    async def _products(self, codes: set[str]) -> dict[str, dict]:
        domain = [("code", "in", sorted(codes)), ("salable", "=", True)]
        found = await self._rpc.call("product.product", "search_read", domain, 0, None, None, ["code", "default_uom"])
        return {product["code"]: product for product in found}


async def _taxes_by_rate(rpc: TrytonRpc) -> dict[Decimal, int]:
    """Customer percentage taxes by rate (0.2 for 20 %); the first one wins if two share a rate."""
    domain = [
        ("parent", "=", None),
        ("type", "=", "percentage"),
        ["OR", ("group", "=", None), ("group.kind", "in", ["sale", "both"])],
    ]
    found = await rpc.call("account.tax", "search_read", domain, 0, None, [("id", "ASC")], ["rate"])
    taxes: dict[Decimal, int] = {}
    for tax in found:
        taxes.setdefault(tax["rate"], tax["id"])
    return taxes
