"""The webhook starter: verifies, validates and hands store and 3PL events to Temporal in milliseconds.

Everything slow happens in the workflow. A request is either refused with a reason
(401 signature, 400 payload, 404 store, 408 a body sent too slowly, 413 size, also when
Temporal would refuse the run's input as too large) or durably handed to a run before we
answer 2xx, so nothing we accept is lost. Only Temporal being unreachable is a 503.
"""
import logging
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import Client
from temporalio.service import RPCError

from adapters.woocommerce_orders import InvalidOrderPayload, order_from_woocommerce
from config import Settings
from starter.http import BodyTooLarge, BodyTooSlow, MalformedBody, parse_json, read_body, refuse
from starter.order_runs import TooLargeForTemporal, hand_order_to_run, hand_refunds_to_runs
from starter.returns_endpoint import returns_handler
from starter.shipbob_webhooks import shipbob_webhook_handler
from starter.signatures import is_valid_woocommerce_signature
from starter.temporal_client import connect

log = logging.getLogger("retail-sync.starter")

ORDER_TOPICS = {"order.created", "order.updated"}


def create_app(settings: Settings, client: Client | None = None) -> Starlette:
    """`client` is for tests and embedding; otherwise the app connects at start-up with backoff."""
    state: dict[str, Client] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette):
        state["client"] = client or await connect(settings.temporal)
        yield

    async def woocommerce_webhook(request: Request) -> JSONResponse:
        store = settings.store(request.path_params["store_id"])
        if store is None:
            return refuse(404, "unknown store")
        try:
            body = await read_body(request, settings.starter.max_body_bytes, settings.starter.body_read_timeout_s)
        except BodyTooLarge:
            return refuse(413, f"body larger than {settings.starter.max_body_bytes} bytes")
        except BodyTooSlow as slow:
            return slow.response()
        signature = request.headers.get("x-wc-webhook-signature")
        if signature is None:
            if _is_ping(request, body):
                return JSONResponse({"status": "ping received"})
            return refuse(401, "missing X-WC-Webhook-Signature")
        if not is_valid_woocommerce_signature(body, signature, store.webhook_secret.get_secret_value()):
            log.warning("store %s: webhook with a bad signature refused", store.id)
            return refuse(401, "invalid signature")
        topic = request.headers.get("x-wc-webhook-topic", "")
        if topic not in ORDER_TOPICS:
            return JSONResponse({"status": "ignored", "reason": f"topic {topic or '(none)'} is not handled"})
        try:
            order = order_from_woocommerce(store.id, parse_json(body))
        except MalformedBody as err:
            return refuse(400, str(err))
        except InvalidOrderPayload as err:
            return refuse(400, f"not an order payload: {err}")
        try:
            run = await hand_order_to_run(state["client"], settings.temporal.task_queue, settings.orders, order)
            await hand_refunds_to_runs(state["client"], settings.temporal.task_queue, settings.returns, order)
        except TooLargeForTemporal as err:
            return refuse(413, f"order {order.order_id} is {err}")
        except RPCError as err:
            log.error("store %s order %s: Temporal refused the hand-off: %s", store.id, order.order_id, err)
            return refuse(503, "could not hand the order to Temporal; not accepted, send again")
        if run is None:
            return JSONResponse({"status": "order run already finished"})
        return JSONResponse({"status": "accepted", "workflow_id": run.id}, status_code=202)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        try:
            await state["client"].service_client.check_health()
        except Exception as err:  # any failure means "not ready", with the reason for the operator
            return JSONResponse({"status": "temporal unreachable", "reason": str(err)}, status_code=503)
        return JSONResponse({"status": "ready"})

    return Starlette(
        routes=[
            Route("/webhooks/woocommerce/{store_id}", woocommerce_webhook, methods=["POST"]),
            Route("/webhooks/shipbob", shipbob_webhook_handler(settings, lambda: state["client"]), methods=["POST"]),
            Route("/returns", returns_handler(settings, lambda: state["client"]), methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )


def _is_ping(request: Request, body: bytes) -> bool:
    """WooCommerce's ping on webhook creation: form-encoded `webhook_id=N`, unsigned, no X-WC headers."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return False
    fields = parse_qs(body.decode("latin-1"))
    return list(fields) == ["webhook_id"] and fields["webhook_id"][0].isdigit()
