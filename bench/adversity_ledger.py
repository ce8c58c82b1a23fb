"""The adversity benchmark's numbers, read at the end from the systems themselves, not from what the cases saw:
the store's orders and refunds, its payment gateway's record, Tryton's sales, credit notes and done moves, the
3PL's shipments, and Temporal's visibility."""
import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from adapters.woocommerce import REFUND_KEY_META
from bench.adversity_driver import done_units
from bench.stack import STORE, BenchStack
from bench.store_rest import StoreRest, refunded_item
from canonical.keys import refund_key_in_reason, sales_order_key
from workflows import search_attributes as sa
from workflows.order_to_cash import OrderToCashWorkflow

LIVE_SALE = ("confirmed", "processing", "done")
ENDED_BADLY = "ExecutionStatus = 'Terminated' OR ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut'"


@dataclass
class Ledger:
    numbers: dict[str, int]
    findings: list[str] = field(default_factory=list)  # each number above 0, and what else looks wrong


async def read_ledger(stack: BenchStack, rest: StoreRest) -> Ledger:
    orders = {str(o["id"]): o for o in await rest.orders()}
    refunds = {order_id: await rest.refunds(order_id) for order_id, o in orders.items() if o["refunds"]}
    sales = await stack.erp.call("sale.sale", "search_read", [("web_id", "like", f"{STORE}:%")], 0, None, None,
                                 ["web_id", "state", "untaxed_amount", "tax_amount", "total_amount", "shipments"])
    sales_of: dict[str, list[dict]] = defaultdict(list)
    for sale in sales:
        sales_of[sale["web_id"]].append(sale)
    notes = await stack.erp.call("account.invoice", "search_read",
                                 [("reference", "like", f"{STORE}:%:refund:%"), ("state", "in", ["posted", "paid"])],
                                 0, None, None, ["reference", "total_amount"])  # fmt: skip
    gateway = (await stack.store_control.get("gateway-refunds")).json()
    threepl = await stack.warehouse.orders(f"{STORE}:")
    parked = {execution.typed_search_attributes.get(sa.ORDER_ID) async for execution in stack.client.list_workflows(
        f"WorkflowType = '{OrderToCashWorkflow.__name__}' AND ExecutionStatus = 'Running' AND "
        f"{sa.STORE_ID.name} = '{STORE}' AND {sa.ORDER_STAGE.name} = 'parked' AND {sa.NEEDS_ATTENTION.name} = true")}
    ledger = Ledger({})
    paid = [o for o in orders.values() if o["date_paid_gmt"]]
    ledger.numbers["lost_orders"] = _lost(ledger, paid, sales_of, parked)
    ledger.numbers["duplicate_erp_sales"] = _duplicate_sales(ledger, orders, sales_of)
    ledger.numbers["duplicate_gateway_refunds"] = _duplicate_refunds(ledger, refunds, gateway)
    ledger.numbers["duplicate_credit_notes"] = _duplicate_notes(ledger, notes)
    ledger.numbers["units_shipped_after_refund"] = await _shipped_after_refund(ledger, stack, paid, refunds, sales_of,
                                                                               threepl)  # fmt: skip
    ledger.numbers["erp_sales_confirmed_off_by_cents"] = _off_by_cents(ledger, orders, sales_of)
    ledger.numbers["terminated_runs"] = await _ended_badly(ledger, stack)
    _refunds_against_payments(ledger, orders, refunds, notes)
    return ledger


def _lost(ledger: Ledger, paid: list[dict], sales_of: dict, parked: set[str]) -> int:
    lost = []
    for order in paid:
        order_id = str(order["id"])
        kept = [s for s in sales_of[sales_order_key(STORE, order_id)] if s["state"] != "cancelled"
                or order["status"] in ("cancelled", "refunded")]  # fmt: skip
        if not kept and order_id not in parked:
            lost.append(order_id)
    if lost:
        ledger.findings.append(f"lost: paid store orders {lost} have no ERP sale and no parked run")
    parked_paid = [o["id"] for o in paid if str(o["id"]) in parked]
    ledger.findings.append(f"{len(paid)} paid store orders, {len(parked_paid)} of them parked with a reason "
                           f"{parked_paid}; {len(parked) - len(parked_paid)} signed orders the store never had parked")
    return len(lost)


def _duplicate_sales(ledger: Ledger, orders: dict, sales_of: dict) -> int:
    extra = {order_id: len(sales_of[sales_order_key(STORE, order_id)]) - 1 for order_id in orders
             if len(sales_of[sales_order_key(STORE, order_id)]) > 1}  # fmt: skip
    if extra:
        ledger.findings.append(f"duplicate ERP sales (order → extra): {extra}")
    return sum(extra.values())


def _duplicate_refunds(ledger: Ledger, refunds: dict[str, list[dict]], gateway: list[dict]) -> int:
    at_gateway = Counter(key for call in gateway
                         if (key := refund_key_in_reason(call.get("reason") or "", STORE, str(call["order_id"]))[0]))
    in_store: Counter = Counter()
    for order_id, found in refunds.items():
        for refund in found:
            meta = next((m["value"] for m in refund["meta_data"] if m["key"] == REFUND_KEY_META), None)
            if key := refund_key_in_reason(refund["reason"] or "", STORE, order_id)[0] or meta:
                in_store[key] += 1
    twice = {key: n - 1 for key, n in at_gateway.items() if n > 1}
    stored_twice = {key: n - 1 for key, n in in_store.items() if n > 1}
    if twice or stored_twice:
        ledger.findings.append(f"refunds made twice: at the gateway {twice}, in the store {stored_twice}")
    ledger.findings.append(f"{sum(at_gateway.values())} gateway refunds under {len(at_gateway)} of our keys; "
                           f"{len(gateway) - sum(at_gateway.values())} without one")
    return sum(twice.values()) + sum(stored_twice.values())


def _duplicate_notes(ledger: Ledger, notes: list[dict]) -> int:
    twice = {ref: n - 1 for ref, n in Counter(note["reference"] for note in notes).items() if n > 1}
    if twice:
        ledger.findings.append(f"credit notes posted twice: {twice}")
    return sum(twice.values())


async def _shipped_after_refund(ledger: Ledger, stack: BenchStack, paid: list[dict], refunds: dict, sales_of: dict,
                                threepl: list[dict]) -> int:  # fmt: skip
    first_shipped: dict[str, datetime] = {}
    for threepl_order in threepl:
        order_id = threepl_order["reference_id"].split(":")[1]
        for shipment in threepl_order["shipments"]:
            if shipment["actual_fulfillment_date"]:
                at = _instant(shipment["actual_fulfillment_date"])
                first_shipped[order_id] = min(first_shipped.get(order_id, at), at)
    over: dict[str, dict[str, Decimal]] = {}
    for order in paid:
        order_id = str(order["id"])
        line_sku = {line["id"]: line["sku"] for line in order["line_items"]}
        owed: Counter = Counter()
        for line in order["line_items"]:
            owed[line["sku"]] += Decimal(line["quantity"])
        shipped_at = first_shipped.get(order_id)
        for refund in refunds.get(order_id, []):
            if shipped_at is None or _instant(refund["date_created_gmt"]) < shipped_at:
                for item in refund["line_items"]:
                    owed[line_sku[refunded_item(item)]] -= abs(Decimal(item["quantity"]))
        shipped = await done_units(stack.erp, sales_of[sales_order_key(STORE, order_id)])
        excess = {sku: units - owed[sku] for sku, units in shipped.items() if units > owed[sku]}
        if excess:
            over[order_id] = excess
    if over:
        ledger.findings.append(f"shipped beyond what was owed after refunds (order → SKU → units): {over}")
    return int(sum(sum(excess.values()) for excess in over.values()))


def _off_by_cents(ledger: Ledger, orders: dict, sales_of: dict) -> int:
    off = []
    for order_id, order in orders.items():
        store = (Decimal(order["total"]) - Decimal(order["total_tax"]), Decimal(order["total_tax"]),
                 Decimal(order["total"]))
        for sale in sales_of[sales_order_key(STORE, order_id)]:
            erp = (sale["untaxed_amount"], sale["tax_amount"], sale["total_amount"])
            if sale["state"] in LIVE_SALE and erp != store:
                off.append(f"order {order_id}: ERP {erp} vs store {store}")
    if off:
        ledger.findings.append("ERP sales confirmed off the store's amounts: " + "; ".join(off))
    return len(off)


async def _ended_badly(ledger: Ledger, stack: BenchStack) -> int:
    await asyncio.sleep(2)  # visibility trails the history by a moment
    ended = [f"{e.workflow_type} {e.id} {e.status.name if e.status else '?'}"
             async for e in stack.client.list_workflows(ENDED_BADLY)]  # fmt: skip
    if ended:
        ledger.findings.append(f"runs ended badly: {ended[:20]}")
    return len(ended)


def _refunds_against_payments(ledger: Ledger, orders: dict, refunds: dict, notes: list[dict]) -> None:
    """Not one of the issue's numbers, but what it is for: per line no more refunded than paid, and the ERP
    crediting what the store refunded."""
    credited: Counter = Counter()
    for note in notes:
        credited[note["reference"].split(":")[1]] += -note["total_amount"]
    for order_id, found in refunds.items():
        order = orders[order_id]
        paid = {line["id"]: Decimal(line["total"]) + Decimal(line["total_tax"]) for line in order["line_items"]}
        given: Counter = Counter()
        for refund in found:
            for item in refund["line_items"]:
                given[refunded_item(item)] += -Decimal(item["total"]) - Decimal(item["total_tax"])
        over = {line: amount for line, amount in given.items() if amount > paid.get(line, Decimal(0))}
        if over:
            ledger.findings.append(f"order {order_id}: refunded more than paid on lines {over} (paid {paid})")
        refunded = sum((Decimal(refund["amount"]) for refund in found), Decimal(0))
        if credited[order_id] != refunded:
            ledger.findings.append(f"order {order_id}: store refunded {refunded}, ERP credited {credited[order_id]}")


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
