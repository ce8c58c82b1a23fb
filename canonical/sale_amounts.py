"""Does the ERP sale charge what the store charged, to the cent? And may a rounding difference be settled?

The store's figures are the ones its customer paid: its total and total tax, the tax per rate as the sum
of its lines' taxes at that rate, and the untaxed amount as total less total tax. The ERP prices each
line as total ÷ quantity (with a few decimals) and computes the taxes again with its own rounding, so
it can be off by cents, or by a whole tax line. A difference is either settled by explicit adjustment
lines, when the store's policy tolerates it, or named with both sides' amounts and its likely cause.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from canonical.order import Order

UNIT_PRICE_DIGITS = Decimal("0.0001")
"""Decimals an adjustment's unit price keeps (Tryton's default price precision)."""


class TaxRounding(StrEnum):
    """Where tax is rounded to the cent."""

    LINE = "line"  # WooCommerce's default: each line's tax is rounded
    TOTAL = "total"  # WooCommerce's "Round tax at subtotal level"; Tryton's default ("per document")


class AmountsPolicy(BaseModel):
    """A store's rule for an ERP sale that differs from its order by rounding."""

    tax_rounding: TaxRounding = TaxRounding.LINE
    """Where the store rounds tax (WooCommerce → Settings → Tax → "Round tax at subtotal level": total)."""
    tolerance: Decimal = Field(default=Decimal(0), ge=0)
    """The largest difference (untaxed, a rate's tax or the total) an adjustment line may settle; 0: none, it parks."""


@dataclass(frozen=True)
class Amounts:
    """Untaxed amount, tax per rate (percent, e.g. Decimal("20")) and total."""

    untaxed: Decimal
    taxes: dict[Decimal, Decimal]
    total: Decimal

    def tax(self, rate: Decimal) -> Decimal:
        return self.taxes.get(rate, Decimal(0))


@dataclass(frozen=True)
class LineAmount:
    """One line as the store charged it and as the ERP prices it."""

    label: str
    quantity: Decimal
    store: Decimal
    erp: Decimal


@dataclass(frozen=True)
class Adjustment:
    """A line of the adjustment product: `amount` excluding tax, taxed at `rate` percent (None: untaxed)."""

    amount: Decimal
    rate: Decimal | None = None


@dataclass(frozen=True)
class Comparison:
    """`adjustments` settle the difference (none: the ERP already equals the store); else `difference` names the
    amounts side by side and `causes` what is known of why."""

    adjustments: tuple[Adjustment, ...] = ()
    difference: str = ""
    causes: tuple[str, ...] = field(default=())

    @property
    def reason(self) -> str:
        known = f" Cause: {'; '.join(self.causes)}." if self.causes else " Cause unknown."
        return f"{self.difference}.{known}" if self.difference else ""


def store_amounts(order: Order, cent: Decimal) -> Amounts:
    """What the store charged: `cent` is the currency's smallest unit (Decimal("0.01") for the euro)."""
    taxes: dict[Decimal, Decimal] = defaultdict(Decimal)
    for item in (*order.lines, *order.shipping_lines, *order.fee_lines):
        for tax in item.taxes:
            if rate := order.tax_rate(tax.rate_id):
                taxes[rate.percent.normalize()] += tax.amount.amount
    rounded = {rate: _round(amount, cent) for rate, amount in taxes.items() if _round(amount, cent)}
    total, total_tax = order.total.amount, order.total_tax.amount
    return Amounts(untaxed=total - total_tax, taxes=rounded, total=total)


def compare(
    store: Amounts,
    erp: Amounts,
    lines: list[LineAmount],
    *,
    tolerance: Decimal,
    store_rounding: TaxRounding,
    erp_rounding: TaxRounding,
) -> Comparison:
    """Equal; or settled by adjustments when every difference is within `tolerance` and only rounding; or not."""
    if erp == store:
        return Comparison()
    rates = sorted(store.taxes.keys() | erp.taxes.keys())
    causes = _causes(store, erp, lines, rates, store_rounding, erp_rounding)
    differences = [store.untaxed - erp.untaxed, store.total - erp.total, *(store.tax(r) - erp.tax(r) for r in rates)]
    missing = [r for r in rates if not store.tax(r) or not erp.tax(r)]
    if tolerance and not missing and all(abs(d) <= tolerance for d in differences):
        return Comparison(adjustments=_adjustments(store, erp, rates))
    return Comparison(difference=side_by_side(store, erp), causes=tuple(causes))


def side_by_side(store: Amounts, erp: Amounts) -> str:
    """"untaxed 20.00 / 20.01, tax 20% 4.00 / 4.00, total 24.00 / 24.01 (store / ERP)"."""
    rates = sorted(store.taxes.keys() | erp.taxes.keys())
    parts = [f"untaxed {store.untaxed} / {erp.untaxed}"]
    parts += [f"tax {_percent(r)} {_or_none(store.taxes.get(r))} / {_or_none(erp.taxes.get(r))}" for r in rates]
    parts.append(f"total {store.total} / {erp.total}")
    return ", ".join(parts) + " (store / ERP)"


def _adjustments(store: Amounts, erp: Amounts, rates: list[Decimal]) -> tuple[Adjustment, ...]:
    """Per rate off, an amount whose tax makes up the difference; one untaxed line takes the rest."""
    taxed = []
    for rate in rates:
        if difference := store.tax(rate) - erp.tax(rate):
            taxed.append(Adjustment(amount=(difference * 100 / rate).quantize(UNIT_PRICE_DIGITS), rate=rate))
    rest = store.untaxed - erp.untaxed - sum((a.amount for a in taxed), Decimal(0))
    return (*taxed, Adjustment(amount=rest)) if rest else tuple(taxed)


def _causes(
    store: Amounts,
    erp: Amounts,
    lines: list[LineAmount],
    rates: list[Decimal],
    store_rounding: TaxRounding,
    erp_rounding: TaxRounding,
) -> list[str]:
    causes = []
    for line in lines:
        if line.erp != line.store:
            causes.append(
                f"{line.label}: {line.quantity.normalize():f} units at {line.store} come to {line.erp} in the ERP, "
                "whose unit prices keep 4 decimals"
            )
    summed = sum((line.store for line in lines), Decimal(0))
    if lines and summed != store.untaxed:
        causes.append(
            f"the store's line totals add up to {summed} but its untaxed amount is {store.untaxed}: it rounded "
            "each line to the cent (prices including tax, or a coupon spread over lines)"
        )
    for rate in rates:
        if not erp.tax(rate):
            causes.append(f"the ERP charges no tax at {_percent(rate)}")
        elif not store.tax(rate):
            causes.append(f"the ERP charges tax at {_percent(rate)}, which the store did not")
        elif store.tax(rate) != erp.tax(rate) and store_rounding != erp_rounding:
            causes.append(
                f"tax at {_percent(rate)} is rounded per {store_rounding.value} in the store and per "
                f"{erp_rounding.value} in the ERP"
            )
    total_tax = store.total - store.untaxed
    if (taxes := sum(store.taxes.values(), Decimal(0))) != total_tax:
        causes.append(f"the store's taxes per rate add up to {taxes} but its total tax is {total_tax}")
    return causes


def _round(amount: Decimal, cent: Decimal) -> Decimal:
    return amount.quantize(cent, rounding=ROUND_HALF_UP)


def _percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}%"


def _or_none(amount: Decimal | None) -> str:
    return "none" if amount is None else str(amount)
