"""The WordPress REST server around our handlers, in WordPress's order:
authentication error → key read/write permission → route match (`rest_no_route`) → handler
(argument validation, then the capability check, then the work).

A handler that waits on something outside WordPress (a payment gateway) returns `Waiting`: the
store lock is free while it waits, as other PHP workers go on serving, and `resume` finishes it.
"""
import json
import math
import re
from dataclasses import dataclass, field
from typing import Callable

from sandbox.woocommerce.auth import BASIC_REALM, authenticate, check_key_permissions
from sandbox.woocommerce.config import ApiKey
from sandbox.woocommerce.errors import WooError, no_route
from sandbox.woocommerce.state import Store
from sandbox.woocommerce.wire import WPResponse, add_query_args, arg_list, parse_php_query

EDITABLE = ("POST", "PUT", "PATCH")


class PhpDied(Exception):
    """PHP stopped at a step of a handler (fatal error, `max_execution_time`): what it saved stays saved."""


@dataclass
class Waiting:
    """A handler waiting `delay_s` on another system; `then` (called under the store lock) carries on."""

    delay_s: float
    then: Callable[[], "WPResponse | Waiting"]


@dataclass
class Call:
    store: Store
    method: str
    path: dict[str, str]
    query: dict
    body: dict
    key: ApiKey | None
    die_before: str | None = None

    def step(self, name: str) -> None:
        """A named point of a handler where a host fault can make PHP die."""
        if name == self.die_before:
            raise PhpDied(name)

    def param(self, name: str, default=None):
        """`$request[name]`: JSON body first, then the query string, then the route."""
        for source in (self.body, self.query, self.path):
            if name in source:
                return source[name]
        return default

    @property
    def params(self) -> dict:
        return {**self.path, **self.query, **self.body}

    def require_user(self, code: str, message: str) -> None:
        """Capability check: every key is the shop manager, so only an anonymous call fails (401)."""
        if self.key is None:
            raise WooError(401, code, message)


@dataclass
class Route:
    methods: tuple[str, ...]
    pattern: str
    handler: Callable[[Call], WPResponse]
    regex: re.Pattern = field(init=False)

    def __post_init__(self) -> None:
        self.regex = re.compile(f"^wc/v3/{self.pattern}$")


def respond(store: Store, data, status: int = 200, headers: dict | None = None) -> WPResponse:
    base_headers = {
        "X-Robots-Tag": "noindex",
        "Link": f'<{store.home_url}/wp-json/>; rel="https://api.w.org/"',
        "X-Content-Type-Options": "nosniff",
        "Access-Control-Expose-Headers": "X-WP-Total, X-WP-TotalPages, Link",
    }
    return WPResponse(data, status_code=status, headers={**base_headers, **(headers or {})})


def collection(
    call: Call, items: list, rest_base: str, page: int, per_page: int, offset: int | None, view=lambda item: item
) -> WPResponse:
    """A list page with `X-WP-Total(Pages)` and prev/next links echoing the caller's own query (auth included).
    `view` renders one item; only the page's items are rendered, as WordPress queries only the page."""
    total = len(items)
    start = offset if offset is not None else (page - 1) * per_page
    max_pages = math.ceil(total / per_page)
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(max_pages)}
    base = f"{call.store.home_url}/wp-json/wc/v3/{rest_base}"
    links = []
    if page > 1:
        links.append(f'<{add_query_args(base, {**call.query, "page": min(page - 1, max_pages)})}>; rel="prev"')
    if max_pages > page:
        links.append(f'<{add_query_args(base, {**call.query, "page": page + 1})}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return respond(call.store, [view(item) for item in items[start:start + per_page]], headers=headers)


def _only_fields(data, fields: list[str]):
    if isinstance(data, list):
        return [_only_fields(item, fields) for item in data]
    if isinstance(data, dict) and "code" not in data:
        return {k: v for k, v in data.items() if k in fields or k == "id"}
    return data


def _body_params(raw: bytes, content_type: str) -> dict:
    if "application/x-www-form-urlencoded" in content_type:
        return parse_php_query(raw.decode("latin-1"))
    if not raw.strip() or "json" not in content_type:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.", json_error_code=4,
                       json_error_message="Syntax error")
    return data if isinstance(data, dict) else {}


def dispatch(store: Store, routes: list[Route], method: str, rest_route: str, raw_path: str, raw_query: str,
             raw_body: bytes, content_type: str, authorization: str, die_before: str | None = None,
             ) -> WPResponse | Waiting:
    query = parse_php_query(raw_query)
    form = parse_php_query(raw_body.decode("latin-1")) if "x-www-form-urlencoded" in content_type else {}
    with store.lock:
        auth = authenticate(store, method, raw_path, query, form, authorization)
        try:
            if auth.error:
                raise auth.error
            if auth.key:
                check_key_permissions(auth.key, method)
            for route in routes:
                match = route.regex.match(rest_route.strip("/"))
                if match and method in route.methods:
                    break
            else:
                raise no_route()
            call = Call(store, method, match.groupdict(), query, _body_params(raw_body, content_type), auth.key,
                        die_before)
            return _trimmed(store, query, route.handler(call))
        except WooError as error:
            headers = {"WWW-Authenticate": BASIC_REALM} if error is auth.error and auth.basic_failed else {}
            return respond(store, error.body(), error.status, headers)


def _trimmed(store: Store, query: dict, response: WPResponse | Waiting) -> WPResponse | Waiting:
    """`_fields` applies to the answer, also to one that comes after a wait."""
    if isinstance(response, Waiting):
        return Waiting(response.delay_s, lambda: _trimmed(store, query, response.then()))
    if "_fields" not in query:
        return response
    return respond(store, _only_fields(json.loads(response.body), arg_list(query, "_fields")), response.status_code,
                   {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")})


def resume(store: Store, waiting: Waiting) -> WPResponse | Waiting:
    with store.lock:
        try:
            return waiting.then()
        except WooError as error:
            return respond(store, error.body(), error.status)
