"""What is wrong with an order that maps but must not reach the ERP or the 3PL, in a merchant's words.

The starter accepts any well-formed signed order (nothing accepted is lost); the run checks it before
its first ERP write and parks with these problems, so an absurd order never leaves half of itself in
the ERP (a party, a draft sale) or makes the ERP's rounding or the 3PL's integer quantities fail later.
"""
from collections.abc import Iterator
from decimal import Decimal

from canonical.money import Money
from canonical.order import Order

MOST_UNITS_PER_LINE = 1_000_000
"""More than any parcel holds; the 3PL counts units in 32-bit integers."""
MOST_AMOUNT = Decimal(10) ** 12
"""No store order is worth a trillion; an ERP rounding such an amount to cents runs out of precision."""
SHOWN_NAME = 60


def order_problems(order: Order) -> list[str]:
    """Empty when the order may go to the ERP; otherwise each problem, for the parked reason."""
    problems = [] if order.lines else ["it has no product lines"]
    for number, line in enumerate(order.lines, start=1):
        name = f"line {number} ({_short(line.name or line.sku or line.line_id)})"
        if line.quantity != line.quantity.to_integral_value():
            problems.append(f"{name} is for {line.quantity} units: only whole units can be sold and shipped")
        elif line.quantity > MOST_UNITS_PER_LINE:
            problems.append(f"{name} is for {line.quantity} units, more than {MOST_UNITS_PER_LINE:,} on one line")
        if line.total.amount < 0 or line.subtotal.amount < 0:
            problems.append(f"{name} has a negative total")
    problems += [f"{where} is {money.amount} {money.currency}, more than any real order"
                 for where, money in _amounts(order) if abs(money.amount) >= MOST_AMOUNT]  # fmt: skip
    if order.total.amount < 0:
        problems.append(f"its total is negative ({order.total.amount} {order.total.currency})")
    problems += [f"tax rate {_short(rate.code or rate.rate_id)} is {rate.percent}%"
                 for rate in order.tax_rates if not 0 <= rate.percent <= 100]  # fmt: skip
    return problems


def _amounts(order: Order) -> Iterator[tuple[str, Money]]:
    yield "its total", order.total
    yield "its total tax", order.total_tax
    for number, line in enumerate(order.lines, start=1):
        name = f"line {number} ({_short(line.name or line.sku or line.line_id)})"
        yield f"the total of {name}", line.total
        yield f"the subtotal of {name}", line.subtotal
        yield from ((f"a tax of {name}", tax.amount) for tax in line.taxes)
    for kind, lines in (("shipping", order.shipping_lines), ("fee", order.fee_lines)):
        for line in lines:
            yield f"a {kind} line", line.total
            yield from ((f"a tax of a {kind} line", tax.amount) for tax in line.taxes)
    for coupon in order.discount_lines:
        yield f"coupon {_short(coupon.code)}", coupon.discount
        yield f"the tax of coupon {_short(coupon.code)}", coupon.discount_tax


def _short(text: str) -> str:
    return text if len(text) <= SHOWN_NAME else text[: SHOWN_NAME - 1] + "…"
