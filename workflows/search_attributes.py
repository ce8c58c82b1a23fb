"""The typed search attributes support staff filter on in the Temporal Web UI, defined once.

The dev server registers them from `ALL`; production namespaces need the same list
(see README, `temporal operator search-attribute create`).
"""
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
ORDER_NUMBER = SearchAttributeKey.for_keyword("OrderNumber")
STORE_ID = SearchAttributeKey.for_keyword("StoreId")
ORDER_STAGE = SearchAttributeKey.for_keyword("OrderStage")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
PARKED_REASON = SearchAttributeKey.for_text("ParkedReason")
ERP_SALE_NUMBER = SearchAttributeKey.for_keyword("ErpSaleNumber")
FULFILMENT_LATE = SearchAttributeKey.for_bool("FulfilmentLate")
REFUND_AMOUNT = SearchAttributeKey.for_float("RefundAmount")
RMA_ID = SearchAttributeKey.for_keyword("RmaId")
SYNC_WATERMARK = SearchAttributeKey.for_keyword("SyncWatermark")
DRIFT_COUNT = SearchAttributeKey.for_int("DriftCount")

ALL = (
    ORDER_ID,
    ORDER_NUMBER,
    STORE_ID,
    ORDER_STAGE,
    NEEDS_ATTENTION,
    PARKED_REASON,
    ERP_SALE_NUMBER,
    FULFILMENT_LATE,
    REFUND_AMOUNT,
    RMA_ID,
    SYNC_WATERMARK,
    DRIFT_COUNT,
)

_CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.INT: "Int",
}


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags
