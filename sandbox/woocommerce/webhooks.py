"""`/wc/v3/webhooks`: subscriptions management. Creating one pings its URL; so does a later save of an
active one while the first ping never got a 200, or one that changes its URL (not a re-activation).
`secret` is write-only and `failure_count` is not exposed (both as in WooCommerce); see
`/__sandbox/webhook-deliveries` for the counts.
"""
import re
import secrets
import string

from sandbox.woocommerce.delivery import WebhookDeliveries
from sandbox.woocommerce.errors import WooError, invalid_params
from sandbox.woocommerce.rest import EDITABLE, Call, Route, collection, respond
from sandbox.woocommerce.state import Store, Webhook
from sandbox.woocommerce.wire import arg_bool, arg_int, wc_dates

STATUSES = ("active", "paused", "disabled")
TOPIC_HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded", "woocommerce_delete_order_refund"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}


def _valid_topic(topic: str) -> bool:
    """`wc_is_webhook_valid_topic`: resource.event, or a single `action.woocommerce_*|wc_*` hook."""
    if topic.startswith("action."):
        return bool(re.fullmatch(r"action\.(woocommerce_|wc_)\w+", topic))
    resource, _, event = topic.partition(".")
    return resource in ("coupon", "customer", "order", "product") and event in (
        "created", "updated", "deleted", "restored")


def webhook_view(store: Store, webhook: Webhook) -> dict:
    created, created_gmt = wc_dates(webhook.created, store.tz)
    modified, modified_gmt = wc_dates(webhook.modified, store.tz)
    base = f"{store.home_url}/wp-json/wc/v3/webhooks"
    hooks = TOPIC_HOOKS.get(webhook.topic) or (
        [webhook.topic[len("action."):]] if webhook.topic.startswith("action.") else [])
    return {
        "id": webhook.id, "name": webhook.name, "status": webhook.status, "topic": webhook.topic,
        "resource": webhook.resource, "event": webhook.event, "hooks": hooks, "delivery_url": webhook.delivery_url,
        "date_created": created, "date_created_gmt": created_gmt, "date_modified": modified,
        "date_modified_gmt": modified_gmt,
        "_links": {"self": [{"href": f"{base}/{webhook.id}"}], "collection": [{"href": base}]},
    }


def _checked(body: dict, creating: bool) -> dict:
    if "status" in body and body["status"] not in STATUSES:
        raise invalid_params({"status": "status is not one of active, paused, and disabled."})
    topic = body.get("topic")
    if (creating or topic is not None) and (not topic or not _valid_topic(str(topic).lower())):
        raise WooError(400, "woocommerce_rest_shop_webhook_invalid_topic",
                       "Webhook topic is required and must be valid.")
    url = body.get("delivery_url")
    if (creating or url is not None) and not re.match(r"^https?://\S+$", str(url or "")):
        raise WooError(400, "woocommerce_rest_shop_webhook_invalid_delivery_url",
                       "Webhook delivery URL must be a valid URL starting with http:// or https://.")
    return body


def webhook_routes(deliveries: WebhookDeliveries) -> list[Route]:
    def list_webhooks(call: Call):
        page = arg_int(call.query, "page", default=1, minimum=1)
        per_page = arg_int(call.query, "per_page", default=10, minimum=1, maximum=100)
        offset = arg_int(call.query, "offset", minimum=0)
        call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        status = call.query.get("status", "all")
        hooks = [w for w in sorted(call.store.webhooks.values(), key=lambda w: w.id, reverse=True)
                 if status == "all" or w.status == status]
        return collection(call, [webhook_view(call.store, w) for w in hooks], "webhooks", page, per_page, offset)

    def find(call: Call, status: int, message: str) -> Webhook:
        webhook = call.store.webhooks.get(int(call.path["id"]))
        if webhook is None:
            raise WooError(status, "woocommerce_rest_shop_webhook_invalid_id", message)
        return webhook

    def get_webhook(call: Call):
        call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
        return respond(call.store, webhook_view(call.store, find(call, 404, "Invalid ID.")))

    def create_webhook(call: Call):
        store, body = call.store, _checked(call.body, creating=True)
        if body.get("id"):
            raise WooError(400, "woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook.")
        call.require_user("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        now = store.now()
        alphabet = string.ascii_letters + string.digits + "!@#$%^&*()-_ []{}<>~`+=,.;:/?|"
        default_name = f"Webhook created on {now.astimezone(store.tz).strftime('%b %d, %Y @ %I:%M %p')}"
        webhook = Webhook(
            store.next_webhook_id(), str(body.get("name") or default_name),
            str(body.get("status") or "active"), str(body["topic"]).lower(), str(body["delivery_url"]),
            str(body.get("secret") or "".join(secrets.choice(alphabet) for _ in range(50))), now, now)
        store.webhooks[webhook.id] = webhook
        deliveries.ping(webhook)
        location = f"{store.home_url}/wp-json/wc/v3/webhooks/{webhook.id}"
        return respond(store, webhook_view(store, webhook), 201, {"Location": location})

    def update_webhook(call: Call):
        store, body = call.store, _checked(call.body, creating=False)
        call.require_user("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
        webhook = find(call, 400, "ID is invalid.")
        moved = body.get("delivery_url") is not None and str(body["delivery_url"]) != webhook.delivery_url
        for name in ("name", "status", "delivery_url", "secret"):
            if body.get(name) is not None:
                setattr(webhook, name, str(body[name]))
        if body.get("topic") is not None:
            webhook.topic = str(body["topic"]).lower()
        webhook.modified = store.now()
        if webhook.status == "active" and (moved or webhook.pending_delivery):  # the data store's `update`
            deliveries.ping(webhook)
        return respond(store, webhook_view(store, webhook))

    def delete_webhook(call: Call):
        call.require_user("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
        webhook = find(call, 404, "Invalid ID.")
        if not arg_bool(call.params, "force"):
            raise WooError(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
        previous = webhook_view(call.store, webhook)
        del call.store.webhooks[webhook.id]
        return respond(call.store, previous)

    return [
        Route(("GET",), "webhooks", list_webhooks),
        Route(("POST",), "webhooks", create_webhook),
        Route(("GET",), r"webhooks/(?P<id>\d+)", get_webhook),
        Route(EDITABLE, r"webhooks/(?P<id>\d+)", update_webhook),
        Route(("DELETE",), r"webhooks/(?P<id>\d+)", delete_webhook),
    ]
