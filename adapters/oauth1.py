"""OAuth 1.0a one-legged signing, the only authentication WooCommerce accepts over plain http.

Written here rather than pulled in: it is a few dozen lines, and WooCommerce deviates from
generic clients in two places that matter (contract §2, §11): the base string must use
the store's home URL exactly as WordPress knows it (no scheme/host/port normalisation),
and the signing key is the raw consumer secret plus "&".
"""
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Generator, Iterable
from urllib.parse import quote

import httpx

SIGNATURE_METHOD = "HMAC-SHA256"


def _encode(value: str) -> str:
    """RFC 3986 percent-encoding, as RFC 5849 §3.6 requires (space is %20, never +)."""
    return quote(value, safe="-._~")


def encode_query(params: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in params)


def signature_base_string(method: str, base_uri: str, params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1: method, base URI and the sorted, encoded parameters, each encoded again."""
    normalised = "&".join(f"{k}={v}" for k, v in sorted((_encode(k), _encode(v)) for k, v in params))
    return "&".join((method.upper(), _encode(base_uri), _encode(normalised)))


def oauth_parameters(
    method: str,
    base_uri: str,
    query: list[tuple[str, str]],
    consumer_key: str,
    consumer_secret: str,
    *,
    nonce: str,
    timestamp: int,
) -> list[tuple[str, str]]:
    """The five `oauth_*` parameters to append to `query`; WooCommerce rejects `oauth_version`."""
    params = [
        ("oauth_consumer_key", consumer_key),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", SIGNATURE_METHOD),
        ("oauth_timestamp", str(timestamp)),
    ]
    base_string = signature_base_string(method, base_uri, [*query, *params])
    digest = hmac.new(f"{consumer_secret}&".encode(), base_string.encode(), hashlib.sha256).digest()
    return [*params, ("oauth_signature", base64.b64encode(digest).decode())]


class OAuth1QueryAuth(httpx.Auth):
    """Signs every send afresh, so a retried request never reuses a nonce (WooCommerce refuses replays)."""

    def __init__(self, home_url: str, consumer_key: str, consumer_secret: str) -> None:
        self._home_url = home_url.rstrip("/")
        self._home_path = httpx.URL(self._home_url).raw_path.decode().rstrip("/")
        self._key = consumer_key
        self._secret = consumer_secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = request.url.raw_path.decode().split("?", 1)[0]
        base_uri = self._home_url + path.removeprefix(self._home_path)
        query = list(request.url.params.multi_items())
        signed = oauth_parameters(
            request.method,
            base_uri,
            query,
            self._key,
            self._secret,
            nonce=secrets.token_hex(16),
            timestamp=int(time.time()),
        )
        request.url = request.url.copy_with(query=encode_query([*query, *signed]).encode())
        yield request
