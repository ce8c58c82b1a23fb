"""Refund activities: the store refund at most once, and its credit note in the ERP."""
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client

from activities.erp_attempts import erp_step
from activities.errors import as_temporal_errors
from activities.stock_signals import republish_stock
from adapters.erp import Erp, ErpCreditNote
from adapters.errors import AdapterError, BusinessError, RetryableError
from canonical import FeeLine, Money, Order, OrderLine, ShippingLine, TaxAmount
from canonical.keys import merchant_refund_of, payout_reference, refund_key, sales_order_key
from canonical.returns import LineKind, Refund, RefundLine, RefundRequest

if TYPE_CHECKING:  # the workflow imports this module for its inputs; keep HTTP clients out of its sandbox
    from activities.stores import StoreDirectory
    from adapters.woocommerce import WooCommerceClient


class StoreRefundRef(BaseModel):
    store_id: str
    order_id: str
    refund_id: str


class CreditNoteRequest(BaseModel):
    store_id: str
    order_id: str
    refund: Refund


class RefundActivities:
    def __init__(self, stores: "StoreDirectory", erp: Erp, client: Client) -> None:
        self._stores = stores
        self._erp = erp
        self._client = client

    @activity.defn
    async def create_store_refund(self, request: RefundRequest) -> Refund:
        """Make our refund in the store at most once, though WooCommerce refunds have no idempotency.

        Every attempt first looks for our key (the reason ends with it). Once an attempt may have sent the
        request (heartbeat details say when, recorded before the POST), no later attempt sends it again: it
        finds ours, or looks again while the store may still be working on it, then parks for a person.
        A refund of ours counts as made once the gateway paid it (or none was asked): while WooCommerce
        waits on the gateway the refund is listed already, and is deleted again if the gateway refuses.
        Above what is still refundable, nothing is written."""
        with as_temporal_errors():
            store = self._stores.client(request.store_id)
            refunds = await store.list_refunds(request.order_id)
            ours = next((r for r in refunds if r.key == request.key), None)
            sent_at = _sent_at(activity.info().heartbeat_details)
            if ours is not None and (ours.refunded_payment or not request.refund_payment):
                refund = ours
            elif ours is not None or sent_at is not None:
                raise self._outcome_unknown(request, ours, sent_at)
            else:
                refund = await self._send(store, request, [line for r in refunds for line in r.lines])
        await _republish_restocked(self._client, refund)
        return refund

    async def _send(self, store: "WooCommerceClient", request: RefundRequest, refunded: list[RefundLine]) -> Refund:
        """The request with its lines cut to what is left of each (`refundable_lines`), for what they are then
        worth, within what is left of the order."""
        order = await store.get_order(request.order_id)
        if request.lines:
            lines = refundable_lines(order, refunded, request.lines)
            if not lines:
                raise BusinessError("retail-sync", f"refund {request.key}: nothing of its lines is left to refund "
                                                   f"on order {order.number}")  # fmt: skip
            total = sum((line.amount.amount + _tax(line) for line in lines), Decimal(0))
            request = request.model_copy(update={"lines": tuple(lines), "amount": Money(amount=total,
                                                                                        currency=order.currency)})
        refundable = order.total.amount - sum((r.amount.amount for r in order.refunds), Decimal(0))
        if request.amount.amount > refundable:
            raise BusinessError(
                "retail-sync",
                f"refund of {request.amount.amount} {request.amount.currency} is more than the "
                f"{refundable} {order.currency} still refundable on order {order.number}",
            )
        activity.heartbeat(datetime.now(UTC).isoformat())  # from here on, this request may reach the store
        try:
            return await store.create_refund(request)
        except RetryableError as failed:
            if not failed.sent:
                activity.heartbeat()  # it did not: the next attempt may send it
            raise

    def _outcome_unknown(self, request: RefundRequest, ours: Refund | None, sent_at: datetime | None) -> AdapterError:
        """Look again while the store may still be working on it (`request_lifetime_s`), then a person decides."""
        since = sent_at or (ours.created_at if ours else None) or datetime.now(UTC)
        lifetime = timedelta(seconds=self._stores.settings(request.store_id).request_lifetime_s)
        what = f"refund {request.key} of {request.amount.amount} {request.amount.currency}"
        if datetime.now(UTC) - since < lifetime:
            state = f"store refund {ours.refund_id} is still at the gateway" if ours else "not in the store's list yet"
            return RetryableError("woocommerce", f"{what} sent at {since:%Y-%m-%d %H:%M:%S} UTC: {state}; looking "
                                                 f"again until {since + lifetime:%H:%M:%S} UTC")  # fmt: skip
        if ours is not None:
            return BusinessError("retail-sync", f"store refund {ours.refund_id} ({what}), saved at "
                                 f"{since:%Y-%m-%d %H:%M:%S} UTC, has not said whether the gateway paid it back: "
                                 "check the gateway, then retry (without the gateway if the money went back) or "
                                 "give up")  # fmt: skip
        return BusinessError("retail-sync", f"{what} was sent to store {request.store_id} at "
                             f"{since:%Y-%m-%d %H:%M:%S} UTC, its outcome is unknown: check the order's refunds and "
                             "the gateway, then retry or give up")  # fmt: skip

    @activity.defn
    async def read_store_refund(self, ref: StoreRefundRef) -> Refund:
        with as_temporal_errors():
            refunds = await self._stores.client(ref.store_id).list_refunds(ref.order_id)
            refund = next((r for r in refunds if r.refund_id == ref.refund_id), None)
            if refund is None:
                raise BusinessError("woocommerce", f"order {ref.order_id} has no refund {ref.refund_id} (deleted?)")
        await _republish_restocked(self._client, refund)
        return refund

    @activity.defn
    async def post_credit_note(self, request: CreditNoteRequest) -> ErpCreditNote:
        """The refund's lines, or for a refund of the whole remaining amount without lines (WooCommerce's
        "Order fully refunded"), every line not refunded before."""
        refund = request.refund
        key = refund.key or refund_key(request.store_id, request.order_id, merchant_refund_of(refund.refund_id))
        async with erp_step():
            lines = list(refund.lines) or await self._remaining_lines(request)
            payout = payout_reference(refund.refund_id) if refund.refunded_payment else None
            return await self._erp.post_credit_note(
                sales_order_key(request.store_id, request.order_id), key, lines, refund.reason, payout
            )

    async def _remaining_lines(self, request: CreditNoteRequest) -> list[RefundLine]:
        store = self._stores.client(request.store_id)
        order = await store.get_order(request.order_id)
        earlier = [r for r in await store.list_refunds(request.order_id) if r.refund_id != request.refund.refund_id]
        lines = remaining_lines(order, [line for r in earlier for line in r.lines])
        rest = sum((line.amount.amount + sum((t.amount.amount for t in line.taxes), Decimal(0)) for line in lines),
                   Decimal(0))  # fmt: skip
        if abs(rest - request.refund.amount.amount) > Decimal("0.01"):
            raise BusinessError(
                "retail-sync", f"store refund {request.refund.refund_id} of {request.refund.amount.amount} names no "
                f"lines and is not the {rest} left on the order: credit it in the ERP by hand",
            )  # fmt: skip
        return lines

    def all(self) -> list:
        return [self.create_store_refund, self.read_store_refund, self.post_credit_note]


async def _republish_restocked(client: Client, refund: Refund) -> None:
    """A refund may have put units back in the store's stock (WooCommerce restocks refunded items), which
    the ERP did not: the store's stock sync compares those SKUs again."""
    await republish_stock(client, refund.store_id, sorted({line.sku for line in refund.lines if line.sku}))


def refundable_lines(order: Order, refunded: list[RefundLine], asked: Sequence[RefundLine]) -> list[RefundLine]:
    """What of each asked line may still go back: never more units than were bought less those refunded,
    never more money (or tax, per rate) than the line cost less what went back of it.

    Units are priced from the line itself, cumulatively: units k+1..k+n cost share(k+n) - share(k), with
    share(m) the line total × m / quantity rounded to the line's cents. So returns one unit at a time add up to
    the line total exactly (the last unit gets the remainder), whatever the asker computed. Amounts without
    units (shipping, fees, a goodwill amount) are capped at what is left of the line.
    """
    lines = {line.line_id: line for line in (*order.lines, *order.shipping_lines, *order.fee_lines)}
    given: list[RefundLine] = []
    for line in asked:
        bought = lines.get(line.line_id)
        if bought is None:
            raise BusinessError("retail-sync", f"line {line.line_id} is not on order {order.number}")
        before = [r for r in refunded if r.line_id == line.line_id]
        part = _units_of(bought, before, line) if line.quantity and isinstance(bought, OrderLine) else \
            _amount_of(bought, before, line)
        if part.quantity or part.amount.amount or _tax(part):
            given.append(part)
    return given


def _units_of(bought: OrderLine, before: list[RefundLine], asked: RefundLine) -> RefundLine:
    done = sum((r.quantity for r in before), Decimal(0))
    quantity = max(Decimal(0), min(asked.quantity, bought.quantity - done))
    cents = _cents(bought.total)

    def price(whole: Money, left: Decimal) -> Money:
        share = _share(whole.amount, done + quantity, bought.quantity, cents) - _share(whole.amount, done,
                                                                                       bought.quantity, cents)
        return whole.model_copy(update={"amount": _within(share, left, cents)})

    taxes = tuple(TaxAmount(rate_id=t.rate_id, amount=price(t.amount, t.amount.amount - _given(before, t.rate_id)))
                  for t in bought.taxes)  # fmt: skip
    return asked.model_copy(update={"quantity": quantity, "amount": price(bought.total,
                                                                          bought.total.amount - _given(before)),
                                    "taxes": taxes})  # fmt: skip


def _amount_of(bought: OrderLine | ShippingLine | FeeLine, before: list[RefundLine], asked: RefundLine) -> RefundLine:
    left = {t.rate_id: t.amount.amount - _given(before, t.rate_id) for t in bought.taxes}
    cents = _cents(bought.total)

    def capped(amount: Money, limit: Decimal) -> Money:
        return amount.model_copy(update={"amount": _within(amount.amount, limit, cents)})

    taxes = tuple(t.model_copy(update={"amount": capped(t.amount, left.get(t.rate_id, Decimal(0)))})
                  for t in asked.taxes)  # fmt: skip
    return asked.model_copy(update={"amount": capped(asked.amount, bought.total.amount - _given(before)),
                                    "taxes": taxes})


def _cents(total: Money) -> Decimal:
    """The store's smallest unit, as its money strings show it (line taxes may carry more decimals)."""
    return Decimal(1).scaleb(min(0, total.amount.as_tuple().exponent))


def _share(amount: Decimal, units: Decimal, of: Decimal, cents: Decimal) -> Decimal:
    return (amount * units / of).quantize(cents, ROUND_HALF_UP)


def _within(amount: Decimal, left: Decimal, cents: Decimal) -> Decimal:
    return max(Decimal(0), min(amount, left)).quantize(cents, ROUND_HALF_UP)


def _given(refunded: list[RefundLine], rate_id: str | None = None) -> Decimal:
    """What went back already: the lines' amounts, or their tax at one rate."""
    if rate_id is None:
        return sum((r.amount.amount for r in refunded), Decimal(0))
    return sum((t.amount.amount for r in refunded for t in r.taxes if t.rate_id == rate_id), Decimal(0))


def _tax(line: RefundLine) -> Decimal:
    return sum((t.amount.amount for t in line.taxes), Decimal(0))


def remaining_lines(order: Order, refunded: list[RefundLine]) -> list[RefundLine]:
    """What of each product, shipping and fee line has not been refunded yet, taxes included."""
    def left(
        kind: LineKind, line_id: str, sku: str | None, quantity: Decimal, total: Money, taxes
    ) -> RefundLine | None:
        earlier = [r for r in refunded if r.line_id == line_id]
        amount = total.amount - sum((r.amount.amount for r in earlier), Decimal(0))
        if amount <= 0:
            return None
        return RefundLine(
            line_id=line_id, kind=kind, sku=sku, quantity=quantity - sum((r.quantity for r in earlier), Decimal(0)),
            amount=Money(amount=amount, currency=total.currency),
            taxes=tuple(tax.model_copy(update={"amount": Money(amount=tax.amount.amount - sum(
                (t.amount.amount for r in earlier for t in r.taxes if t.rate_id == tax.rate_id), Decimal(0)),
                currency=total.currency)}) for tax in taxes),
        )  # fmt: skip

    candidates = [left(LineKind.PRODUCT, l.line_id, l.sku, l.quantity, l.total, l.taxes) for l in order.lines]
    candidates += [left(LineKind.SHIPPING, l.line_id, None, Decimal(0), l.total, l.taxes) for l in order.shipping_lines]
    candidates += [left(LineKind.FEE, l.line_id, None, Decimal(0), l.total, l.taxes) for l in order.fee_lines]
    return [line for line in candidates if line is not None]


def _sent_at(heartbeat_details: Sequence) -> datetime | None:
    """When an earlier attempt of this activity sent the refund request, if it may have."""
    return datetime.fromisoformat(heartbeat_details[0]) if heartbeat_details else None
