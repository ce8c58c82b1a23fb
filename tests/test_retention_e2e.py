"""No correctness depends on Temporal's retention: once an order's closed run is deleted, the order's webhook
replayed (a merchant edits a months-old order) finds the durable facts in the ERP and the 3PL and moves
nothing twice."""
import json

import httpx

from canonical.keys import order_workflow_id
from starter.signatures import woocommerce_signature
from tests.plugins.stack import STORE_ID, WEBHOOK_SECRET, OrderStack, sales_for
from tests.plugins.temporal import delete_closed_runs
from tests.test_fulfilment_e2e import done_erp_shipments, finished, tracking_notes
from tests.test_returns_e2e import shipped_order
from workflows.order_messages import OrderStage


async def replay_webhook(stack: OrderStack, order_id) -> None:
    body = json.dumps(await stack.shopper.get_order(order_id)).encode()
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.updated",
               "X-WC-Webhook-Signature": woocommerce_signature(body, WEBHOOK_SECRET)}  # fmt: skip
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{stack.starter_url}/webhooks/woocommerce/{STORE_ID}", content=body, headers=headers)
    assert answer.status_code == 202, answer.text


async def payments(stack: OrderStack, sale: dict) -> list[dict]:
    (invoice,) = await stack.erp.call("account.invoice", "search_read", [("sales.id", "=", sale["id"])], 0, None,
                                      None, ["payment_lines"])  # fmt: skip
    return invoice["payment_lines"]


async def test_a_webhook_replayed_after_the_closed_run_was_deleted_moves_nothing_twice(order_stack: OrderStack):
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 1), ("BOOK-COFFEE", 1)])
    (sale,) = await sales_for(order_stack, order["id"])
    before = (await done_erp_shipments(order_stack, sale), await order_stack.warehouse.orders(f"{STORE_ID}:{order['id']}:"),
              await tracking_notes(order_stack, order["id"]), await payments(order_stack, sale))  # fmt: skip

    await delete_closed_runs(order_stack.client, order_workflow_id(STORE_ID, str(order["id"])))
    await order_stack.warehouse.restock(1, "BOOK-COFFEE", 5)  # routing today would send both from centre 1
    await replay_webhook(order_stack, order["id"])

    assert (await finished(order_stack, order["id"])).stage == OrderStage.COMPLETED
    (again,) = await sales_for(order_stack, order["id"])
    assert again["id"] == sale["id"]
    after = (await done_erp_shipments(order_stack, again), await order_stack.warehouse.orders(f"{STORE_ID}:{order['id']}:"),
             await tracking_notes(order_stack, order["id"]), await payments(order_stack, again))  # fmt: skip
    assert [len(found) for found in after] == [len(found) for found in before]
    assert after[0] == before[0] and after[2] == before[2] and after[3] == before[3]
