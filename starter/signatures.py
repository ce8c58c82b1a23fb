"""Webhook signature checks, on the raw body bytes, in constant time."""
import base64
import hashlib
import hmac
import html


def woocommerce_signature(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(body)). WooCommerce HTML-entity-decodes the secret before hashing; so do we."""
    key = html.unescape(secret).encode()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def is_valid_woocommerce_signature(body: bytes, signature: str, secret: str) -> bool:
    return hmac.compare_digest(woocommerce_signature(body, secret).encode(), signature.strip().encode())
