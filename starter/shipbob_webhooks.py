"""`POST /webhooks/shipbob`: 3PL shipment and return events, verified per Standard Webhooks, handed to their run.

ShipBob retries a failed delivery for about a day and may deliver twice or out of order:
we dedupe by `webhook-id` once the run has the news, and the run ignores stale states. A
missing event is caught by the run's own poll, so nothing here has to be perfect, only safe.
"""
import logging
from collections import OrderedDict
from collections.abc import Callable

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.shipbob_mapping import (
    InvalidShipBobPayload,
    order_reference_of,
    return_reference_of,
    shipment_from_webhook,
)
from canonical.keys import (
    order_of_fulfilment_reference,
    order_of_return_reference,
    order_workflow_id,
    return_workflow_id,
)
from config import Settings
from starter.http import BodyTooLarge, BodyTooSlow, MalformedBody, parse_json, read_body, refuse
from starter.order_runs import TooLargeForTemporal, refusing_what_never_fits
from workflows.order_messages import ShipmentNews

log = logging.getLogger("retail-sync.starter")

SHIPMENT_TOPICS = {
    "order.shipped",
    "order.shipment.delivered",
    "order.shipment.exception",
    "order.shipment.on_hold",
    "order.shipment.cancelled",
}
RETURN_TOPICS = {"return.created", "return.updated", "return.completed"}
REMEMBERED_DELIVERIES = 10_000


class _SeenDeliveries:
    """The most recent `webhook-id`s already handed to a run (bounded; the run is idempotent anyway)."""

    def __init__(self, size: int = REMEMBERED_DELIVERIES) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, delivery_id: str) -> bool:
        return delivery_id in self._ids

    def add(self, delivery_id: str) -> None:
        self._ids[delivery_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)


def shipbob_webhook_handler(settings: Settings, client: Callable[[], Client]):
    seen = _SeenDeliveries()
    secret = settings.threepl.webhook_secret.get_secret_value()

    async def shipbob_webhook(request: Request) -> JSONResponse:
        if not secret:
            return refuse(404, "3PL webhooks are not configured")
        try:
            body = await read_body(request, settings.starter.max_body_bytes, settings.starter.body_read_timeout_s)
        except BodyTooLarge:
            return refuse(413, f"body larger than {settings.starter.max_body_bytes} bytes")
        except BodyTooSlow as slow:
            return slow.response()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as err:  # Standard Webhooks signs text: such a body cannot even be verified
            return refuse(400, f"body is not UTF-8: {err}")
        try:
            Webhook(secret).verify(text, dict(request.headers), json_parse=False)
        except (WebhookVerificationError, ValueError) as err:
            log.warning("3PL webhook refused: %s", err)
            return refuse(401, f"invalid webhook signature: {err}")
        delivery_id = request.headers["webhook-id"]
        if delivery_id in seen:
            return JSONResponse({"status": "duplicate delivery", "webhook_id": delivery_id})
        topic = request.headers.get("x-webhook-topic", "")
        if topic not in SHIPMENT_TOPICS | RETURN_TOPICS:
            return JSONResponse({"status": "ignored", "reason": f"topic {topic or '(none)'} is not handled"})
        try:
            payload = parse_json(body)
            if topic in RETURN_TOPICS:
                workflow_id, signal, argument = _return_run(settings, payload)
            else:
                workflow_id, signal, argument = _order_run(settings, payload)
        except MalformedBody as err:
            return refuse(400, str(err))
        except InvalidShipBobPayload as err:
            return refuse(400, f"not a {'return' if topic in RETURN_TOPICS else 'shipment'} payload: {err}")
        if workflow_id is None:
            return JSONResponse({"status": "ignored", "reason": "the reference is not one of ours"})
        try:
            with refusing_what_never_fits():
                await client().get_workflow_handle(workflow_id).signal(signal, *argument)
        except TooLargeForTemporal as err:
            return refuse(413, f"event {delivery_id} is {err}")
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                log.info("3PL event %s for %s: the order run is not running", delivery_id, workflow_id)
                return JSONResponse({"status": "order run not running", "workflow_id": workflow_id})
            log.error("3PL event %s for %s: Temporal refused the hand-off: %s", delivery_id, workflow_id, err)
            return refuse(503, "could not hand the event to Temporal; not accepted, send again")
        seen.add(delivery_id)
        return JSONResponse({"status": "accepted", "workflow_id": workflow_id}, status_code=202)

    return shipbob_webhook


def _order_run(settings: Settings, payload: object) -> tuple[str | None, str, list]:
    """A shipment event goes, with the shipment, to the run of the order its reference names."""
    news = ShipmentNews(reference=order_reference_of(payload) or "", shipment=shipment_from_webhook(payload))
    order = order_of_fulfilment_reference(news.reference)
    ours = order is not None and settings.store(order[0]) is not None
    return (order_workflow_id(*order) if ours else None), "shipment_changed", [news]


def _return_run(settings: Settings, payload: object) -> tuple[str | None, str, list]:
    """A return event is a hint to the RMA's run, which reads the return itself (SKUs need the adapter)."""
    reference = return_reference_of(payload)
    if not reference:
        raise InvalidShipBobPayload("no reference_id")
    order = order_of_return_reference(reference)
    ours = order is not None and settings.store(order[0]) is not None
    return (return_workflow_id(reference) if ours else None), "parcel_news", []
