"""Support reads an order's ERP sale, shipments with tracking, invoice and refunds, and a return's and a refund's
lines, amount, credit note and state, from their runs at
every stage and after they closed: the memo and the result come from history alone, with no worker answering."""
import asyncio
import json
from decimal import Decimal
from pathlib import Path

from canonical.keys import merchant_refund_of, order_workflow_id, refund_workflow_id, sales_order_key
from canonical.returns import ReturnLine
from starter.cli import main as cli
from starter.operator import order_query
from starter.returns import authorise_return
from tests.plugins.stack import STORE_ID, OrderStack, reach, write_cli_config
from tests.plugins.temporal import eventually
from tests.test_fulfilment_e2e import finished
from tests.test_returns_e2e import shipped_order
from workflows.order_messages import OrderStage
from workflows.records import MEMO_KEY, OrderRecord, RecordLine, RefundRecord, ReturnRecord
from workflows.returns import ReturnWorkflow


async def open_shipments(stack: OrderStack, order_id) -> list[dict]:
    return [s for s in await stack.warehouse.shipments(f"{STORE_ID}:{order_id}:") if s["status"] != "Cancelled"]


async def test_a_closed_order_run_keeps_its_sale_tracking_invoice_and_refunds_in_memo_and_result(
    order_stack: OrderStack,
):
    stack = order_stack
    order = await stack.shopper.place_order([("TEE-CLASSIC", 2)], paid=True)
    waiting = await reach(stack, order["id"], OrderStage.AWAITING_SHIPMENT)
    handle = stack.client.get_workflow_handle(order_workflow_id(STORE_ID, str(order["id"])))
    before = OrderRecord.model_validate((await (await handle.describe()).memo())[MEMO_KEY])
    assert (before.erp_sale_number, before.order_number) == (waiting.erp_sale_number, order["number"])
    (tee,) = (await stack.shopper.get_order(order["id"]))["line_items"]
    refund = await stack.shopper.refund_line(order["id"], tee, 1, reason="late delivery")
    await eventually(lambda: stack.warehouse.orders(f"{STORE_ID}:{order['id']}:"), lambda o: len(o) == 2, 60)
    await reach(stack, order["id"], OrderStage.AWAITING_SHIPMENT)  # the tee left goes out again

    (parcel,) = await open_shipments(stack, order["id"])
    await stack.warehouse.ship(parcel["id"])
    outcome = await finished(stack, order["id"])

    (sale,) = await stack.erp.call("sale.sale", "search_read", [("web_id", "=", sales_order_key(STORE_ID,
                                   str(order["id"])))], 0, None, None, ["number", "invoices.number"])  # fmt: skip
    (parcel,) = await open_shipments(stack, order["id"])
    memo = OrderRecord.model_validate((await (await handle.describe()).memo())[MEMO_KEY])
    assert memo == outcome.record
    assert (memo.erp_sale_number, memo.invoice_number) == (sale["number"], sale["invoices."][0]["number"])
    shipped = next(s for s in memo.shipments if s.shipment_id == str(parcel["id"]))
    assert (shipped.shipment_id, shipped.status) == (str(parcel["id"]), "delivered" if parcel["status"] ==
                                                     "Delivered" else "shipped")  # fmt: skip
    assert (shipped.carrier, shipped.tracking_number, shipped.tracking_url) == (
        parcel["tracking"]["carrier"], parcel["tracking"]["tracking_number"], parcel["tracking"]["tracking_url"])
    assert [(r.refund_id, r.amount.amount, r.amount.currency, r.reason) for r in memo.refunds] == [
        (str(refund["id"]), Decimal(refund["amount"]), order["currency"], "late delivery")]
    assert memo.waits_for.endswith("shipped, completed in the store, invoiced and paid in the ERP.")


async def test_a_return_and_its_refund_keep_lines_amount_credit_note_and_state_in_memo_result_and_cli(
    order_stack: OrderStack, tmp_path, monkeypatch, capsys
):
    stack = order_stack
    order = await shipped_order(stack, [("TEE-CLASSIC", 2)])
    authorised = await authorise_return(stack.client, stack.settings, STORE_ID, str(order["id"]),
                                        [ReturnLine(sku="TEE-CLASSIC", quantity=Decimal(1))])  # fmt: skip
    (expected,) = await eventually(lambda: stack.warehouse.returns(authorised.rma), bool, 60)
    returned = stack.client.get_workflow_handle_for(ReturnWorkflow.run, authorised.workflow_id)
    waiting = ReturnRecord.model_validate((await (await returned.describe()).memo())[MEMO_KEY])
    assert (waiting.rma, waiting.order_number, waiting.lines, waiting.refund) == (
        authorised.rma, order["number"], [RecordLine(sku="TEE-CLASSIC", quantity=Decimal(1))], None)

    await stack.warehouse.receive_return(expected["id"], [("TEE-CLASSIC", 1, "Restock")])
    outcome = await asyncio.wait_for(returned.result(), 180)

    (note,) = await stack.erp.call("account.invoice", "search_read", [("reference", "like", f"{STORE_ID}:"
                                   f"{order['id']}:refund:%")], 0, None, None, ["number"])  # fmt: skip
    (refund,) = await stack.store.list_refunds(order["id"])
    memo = ReturnRecord.model_validate((await (await returned.describe()).memo())[MEMO_KEY])
    assert memo == outcome.record and memo.state == "completed"
    assert memo.refund is not None and memo.refund == outcome.refund.record
    assert (memo.refund.refund_id, memo.refund.amount, memo.refund.credit_note, memo.refund.lines) == (
        refund.refund_id, refund.amount, note["number"], [RecordLine(sku="TEE-CLASSIC", quantity=Decimal(1))])
    child = stack.client.get_workflow_handle(refund_workflow_id(STORE_ID, str(order["id"]), authorised.rma))
    described = await child.describe()
    assert RefundRecord.model_validate((await described.memo())[MEMO_KEY]) == memo.refund
    assert await described.static_summary() == (f"Refund for return {authorised.rma} of order #{order['number']} "
                                                f"({STORE_ID})")  # fmt: skip

    order_run = order_workflow_id(STORE_ID, str(order["id"]))
    assert await runs(stack, order_query(STORE_ID, str(order["id"]))) == [order_run]
    everything = await eventually(lambda: runs(stack, order_query(STORE_ID, str(order["id"]), everything=True)),
                                  lambda found: len(found) == 4)  # fmt: skip
    echo = refund_workflow_id(STORE_ID, str(order["id"]), merchant_refund_of(refund.refund_id))  # ours, read back
    assert sorted(everything) == sorted([order_run, authorised.workflow_id, child.id, echo])

    monkeypatch.setenv("RETAIL_SYNC_CONFIG", str(write_cli_config(stack, tmp_path / "retail-sync.toml")))
    assert await asyncio.to_thread(cli, ["returns", "show", authorised.rma]) == 0
    shown = capsys.readouterr().out
    assert f"Return {authorised.rma} of order #{order['number']} ({STORE_ID}): 1 × TEE-CLASSIC. State: completed." in shown
    assert f"Refund {refund.refund_id} of {refund.amount.amount} {refund.amount.currency}" in shown
    assert f"ERP credit note **{note['number']}**" in shown
    assert await asyncio.to_thread(cli, ["returns", "show", authorised.rma, "--json"]) == 0
    assert ReturnRecord.model_validate(json.loads(capsys.readouterr().out)["record"]) == memo
    assert await asyncio.to_thread(cli, ["refunds", "list", "--json"]) == 0
    rows = [row for row in json.loads(capsys.readouterr().out) if row["order"] == str(order["id"])]
    assert [(row["refund"], row["amount"], row["credit_note"]) for row in rows] == [
        (refund.refund_id, f"{refund.amount.amount} {refund.amount.currency}", note["number"])]  # one row, not two
    for listing in (["refunds", "list"], ["returns", "list"], ["orders", "list"]):
        assert await asyncio.to_thread(cli, listing) == 0
        header, *_ = capsys.readouterr().out.splitlines()
        assert header.split()[:3] in (["REFUND", "STORE", "ORDER"], ["RMA", "STORE", "ORDER"],
                                      ["STORE", "ORDER", "NUMBER"]), (listing, header)  # fmt: skip
    assert await asyncio.to_thread(cli, ["orders", "show", STORE_ID, str(order["id"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["erp_sale_number"]


async def runs(stack: OrderStack, query: str) -> list[str]:
    return [execution.id async for execution in stack.client.list_workflows(query)]


def test_the_readme_gives_support_both_queries_for_one_order():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert f"`{order_query('demo', '1003')}`" in readme
    assert f"`{order_query('demo', '1003', everything=True)}`" in readme
