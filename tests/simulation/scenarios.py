"""Seeded order lifetimes: `scenario(seed)` is the list of events one store order lives through, drawn with
weights from what a retailer's systems really do (issue 13, part 1). The same seed always gives the same list.

Events are semantic ("ship the next waiting shipment", "refund 1 × TEE-CLASSIC"): the player resolves them
against the sandboxes when it plays them, and skips (saying so) one that no longer applies.
"""
import random
from dataclasses import dataclass, field

SKUS = ("TEE-CLASSIC", "MUG-CERAMIC", "BOOK-COFFEE", "HOODIE-S")
"""The demo catalogue; MUG-CERAMIC is stocked at one fulfilment centre only and BOOK-COFFEE at the other, so an
order of both is split into two shipments."""
ERP_STEPS = ("ensure_customer", "create_sales_order", "ship_sales_order", "invoice_sales_order",
             "post_credit_note", "cancel_sales_order", "release_unshipped")  # fmt: skip
STORE_FAULTS = {
    "note_503": "the store answers 503 to the next order note",
    "note_lost": "the store saves the next order note, its response is lost",
    "refunds_503": "the store answers 503 to the next read of the order's refunds",
}


@dataclass(frozen=True)
class Event:
    kind: str
    args: dict = field(default_factory=dict)

    def __str__(self) -> str:
        a = self.args
        shown = {
            **a,
            "lines": ", ".join(f"{q} × {sku}" for sku, q in a.get("lines", ())),
            "payment": "paid at once" if a.get("paid") else "payment pending",
            "times": " twice" if a.get("times", 1) > 1 else "",
            "gateway": " through the gateway" if a.get("gateway") else "",
            "lost": " — its webhooks are lost (the intake backstop must find it)" if a.get("lost") else "",
            "quirks": "".join(f" ({', '.join(q)} webhooks)" for q in [[q for q in QUIRKS if a.get(q)]] if q),
            "outcome": "response lost" if a.get("when") == "after" else "connection dropped",
            "store_fault": STORE_FAULTS.get(a.get("fault", ""), ""),
        }
        return TEXTS.get(self.kind, f"{self.kind} {a}").format(**shown)


TEXTS = {
    "checkout": "checkout of {lines}, {payment}",
    "pay": "the customer pays{lost}",
    "deliver_again": "{topic} delivered again: the {which} snapshot{times}",
    "cancel_in_store": "the merchant cancels the order in the store{lost}",
    "refund_lines": "the merchant refunds {lines}{gateway}{lost}",
    "refund_rest": "the merchant refunds everything left{gateway}{lost}",
    "ship_next": "the warehouse ships the next waiting shipment{quirks}",
    "wait": "{what} passes",
    "erp_fault": "the next ERP {method} call: {outcome}",
    "store_fault": "{store_fault}",
    "threepl_fault": "the 3PL answers 429 to its next {count} calls",
    "restart_worker": "the worker restarts",
    "wrap_up": "the warehouse ships whatever still waits, and days pass",
}
QUIRKS = ("without tracking", "duplicated", "reordered", "dropped")
"""Of the 3PL's webhooks for one shipment (sandbox quirks): `order.shipped` without its tracking, every message
delivered twice, held back until the next one overtook it, never delivered (only the run's poll sees it)."""


@dataclass(frozen=True)
class Scenario:
    seed: int
    events: tuple[Event, ...]

    def render(self) -> str:
        return "\n".join(f"  {n:2}. {event}" for n, event in enumerate(self.events, 1))


def scenario(seed: int) -> Scenario:
    rng = random.Random(seed)
    lines = [(sku, rng.choice((1, 1, 2, 3))) for sku in rng.sample(SKUS, rng.choice((1, 1, 2, 2, 3)))]
    paid = rng.random() < 0.6
    events = [Event("checkout", {"lines": lines, "paid": paid})]
    if rng.random() < 0.3:
        events.append(_delivered_again(rng))
    if not paid:
        if rng.random() < 0.3:
            events.append(Event("wait", {"what": "half an hour", "minutes": 30}))
        if rng.random() < 0.08:  # the customer gave up on the order: nothing more happens to it
            return Scenario(seed, (*events, Event("cancel_in_store", {"lost": rng.random() < 0.2}), Event("wrap_up")))
        if rng.random() < 0.75:
            events.append(Event("pay", {"lost": rng.random() < 0.2}))
        else:
            return Scenario(seed, (*events, Event("wrap_up")))  # never paid: the payment window closes the run
    later = [Event("ship_next", _shipping_quirks(rng)) for _ in range(rng.choice((0, 1, 1, 2, 2, 3)))]
    if rng.random() < 0.35:
        sku, ordered = rng.choice(lines)
        later.append(Event("refund_lines", {"lines": [(sku, rng.randint(1, ordered))], "gateway": rng.random() < 0.5,
                                            "lost": rng.random() < 0.15}))  # fmt: skip
    if rng.random() < 0.12:
        later.append(Event("refund_rest", {"gateway": rng.random() < 0.5, "lost": rng.random() < 0.15}))
    if rng.random() < 0.12:
        later.append(Event("cancel_in_store", {"lost": rng.random() < 0.15}))
    for _ in range(rng.choice((0, 0, 1, 2))):
        later.append(_delivered_again(rng))
    if rng.random() < 0.35:
        later.append(Event("erp_fault", {"method": rng.choice(ERP_STEPS), "when": rng.choice(("before", "after"))}))
    if rng.random() < 0.25:
        later.append(Event("store_fault", {"fault": rng.choice(sorted(STORE_FAULTS))}))
    if rng.random() < 0.15:
        later.append(Event("threepl_fault", {"count": rng.randint(1, 3)}))
    if rng.random() < 0.15:
        later.append(Event("restart_worker"))
    if rng.random() < 0.3:
        later.append(Event("wait", {"what": "the 3PL poll interval", "minutes": 31}))
    rng.shuffle(later)
    return Scenario(seed, (*events, *later, Event("wrap_up")))


def _delivered_again(rng: random.Random) -> Event:
    """WooCommerce delivers several times per change, builds the payload at delivery time, and races itself."""
    return Event("deliver_again", {"topic": rng.choice(("order.created", "order.updated")),
                                   "which": rng.choice(("current", "current", "oldest", "previous")),
                                   "times": rng.choice((1, 1, 2))})  # fmt: skip


def _shipping_quirks(rng: random.Random) -> dict:
    return {quirk: True for quirk, p in (("without tracking", 0.15), ("duplicated", 0.2), ("reordered", 0.15),
                                         ("dropped", 0.1)) if rng.random() < p}  # fmt: skip
