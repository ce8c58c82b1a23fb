"""Telling a store's stock sync run that SKUs may show the wrong stock, from outside the stock watch.

WooCommerce moves stock by itself (a refund that restocks, a new listing at 0): the ERP saw no
stock move, so only this tells the run to compare those SKUs again.
"""
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from canonical.keys import stock_sync_workflow_id


async def republish_stock(client: Client, store_id: str, skus: list[str]) -> None:
    if not skus:
        return
    try:
        await client.get_workflow_handle(stock_sync_workflow_id(store_id)).signal("stock_changed", skus)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        activity.logger.warning("store %s has no stock sync run: %d SKU(s) wait for its reconciliation",
                                store_id, len(skus))  # fmt: skip
