"""Who is calling, decided the way `WC_REST_Authentication` decides it.

Over https (the home URL's scheme) Basic auth or `consumer_key`/`consumer_secret` query params are tried
first; OAuth 1.0a one-legged is always tried after. Over http Basic and query credentials are simply not
looked at, so the request runs anonymously and fails later on a capability check. The OAuth base string
is built from the configured home URL, never from the URL the client called.
"""
import base64
import binascii
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote, unquote_plus

from sandbox.woocommerce.config import ApiKey
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.state import Store

NONCE_WINDOW_S = 15 * 60
OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
BASIC_REALM = ('Basic realm="WooCommerce API. Use a consumer key in the username field and a consumer secret in '
               'the password field."')


@dataclass
class AuthResult:
    key: ApiKey | None = None
    error: WooError | None = None
    basic_failed: bool = False  # the error is Basic's: the contract asks for a `WWW-Authenticate` challenge


def _auth_error(message: str, code: str = "woocommerce_rest_authentication_error") -> WooError:
    return WooError(401, code, message)


def authenticate(store: Store, http_method: str, raw_path: str, query: dict, form: dict,
                 authorization: str) -> AuthResult:
    result = AuthResult()
    if store.is_ssl:
        key = _basic(store, query, authorization, result)
        if key:
            result.key = key
            return result
    result.key = _oauth(store, http_method, raw_path, {**query, **form}, authorization, result)
    return result


def _basic(store: Store, query: dict, authorization: str, result: AuthResult) -> ApiKey | None:
    consumer_key = consumer_secret = ""
    if query.get("consumer_key") and query.get("consumer_secret"):
        consumer_key, consumer_secret = str(query["consumer_key"]), str(query["consumer_secret"])
    if not consumer_key and authorization[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(authorization[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        consumer_key, consumer_secret = user, password
    if not consumer_key or not consumer_secret:
        return None
    key = store.keys.get(consumer_key)
    if key is None:
        return None  # an unknown key is not an error here: the request just stays anonymous
    if not hmac.compare_digest(key.consumer_secret.encode(), consumer_secret.encode()):
        result.error = _auth_error("Consumer secret is invalid.")
        result.basic_failed = True
        return None
    return key


def _oauth_params(params: dict, authorization: str) -> dict:
    header = authorization.strip()
    if header.startswith("OAuth "):
        for name, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(?::?"([^"]*)"|([^,]*))', header):
            params[name] = unquote_plus(quoted or bare)
    return params


def _oauth(store: Store, http_method: str, raw_path: str, params: dict, authorization: str,
           result: AuthResult) -> ApiKey | None:
    params = _oauth_params(dict(params), authorization)
    missing = [name for name in OAUTH_PARAMS if not params.get(name)]
    if len(missing) == len(OAUTH_PARAMS):
        return None
    result.basic_failed = False
    if missing:
        label = "parameter" if len(missing) == 1 else "parameters"
        result.error = _auth_error(f"Missing OAuth {label} {', '.join(missing)}",
                                   "woocommerce_rest_authentication_missing_parameter")
        return None
    key = store.keys.get(str(params["oauth_consumer_key"]))
    if key is None:
        result.error = _auth_error("Consumer key is invalid.")
        return None
    failure = _check_signature(store, key, http_method, raw_path, params) or _check_nonce(store, key, params)
    if failure:
        result.error = failure
        return None
    return key


def _rfc3986(value: str) -> str:
    return quote(value, safe="~")


def _joined(params: dict, prefix: str = "") -> list[str]:
    """`join_with_equals_sign`: nested keys as `k%5Bsub%5D`, every `k=v` pair encoded once more."""
    pairs = []
    for name, value in params.items():
        key = f"{prefix}%5B{name}%5D" if prefix else name
        if isinstance(value, dict):
            pairs += _joined(value, key)
        else:
            pairs.append(_rfc3986(f"{key}={value}"))
    return pairs


def _normalized(value):
    if isinstance(value, list):
        value = {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    return _rfc3986(str(value))


def signature_base_string(home_url: str, http_method: str, raw_path: str, params: dict) -> str:
    """The string WooCommerce signs: METHOD & enc(home URL + path) & enc(sorted, encoded params)."""
    request_path = raw_path[1:] if raw_path.startswith("/") else raw_path
    base_uri = _rfc3986(f"{home_url}/{request_path}")
    unsigned = {k: v for k, v in params.items() if k != "oauth_signature"}
    normalized = {_rfc3986(k): _normalized(unsigned[k]) for k in sorted(unsigned, key=lambda k: k.encode())}
    return f"{http_method.upper()}&{base_uri}&{'%26'.join(_joined(normalized))}"


def _check_signature(store: Store, key: ApiKey, http_method: str, raw_path: str, params: dict) -> WooError | None:
    method = params["oauth_signature_method"]
    if method not in ("HMAC-SHA1", "HMAC-SHA256"):
        return _auth_error("Invalid signature - signature method is invalid.")
    base = signature_base_string(store.home_url, http_method, raw_path, params)
    digest = hashlib.sha1 if method == "HMAC-SHA1" else hashlib.sha256
    expected = base64.b64encode(hmac.new(f"{key.consumer_secret}&".encode(), base.encode(), digest).digest())
    provided = unquote(str(params["oauth_signature"]).replace(" ", "+"))
    if not hmac.compare_digest(expected, provided.encode()):
        return _auth_error("Invalid signature - provided signature does not match.")
    return None


def _check_nonce(store: Store, key: ApiKey, params: dict) -> WooError | None:
    """Used nonces are stored per key *by timestamp*: a second nonce with the same timestamp replaces the first."""
    now = int(time.time())
    try:
        timestamp = int(str(params["oauth_timestamp"]))
    except ValueError:
        return _auth_error("Invalid timestamp.")
    if not now - NONCE_WINDOW_S <= timestamp <= now + NONCE_WINDOW_S:
        return _auth_error("Invalid timestamp.")
    used = store.nonces[key.consumer_key]
    nonce = str(params["oauth_nonce"])
    if nonce in used.values():
        return _auth_error("Invalid nonce - nonce has already been used.")
    used[timestamp] = nonce
    for stamp in [s for s in used if s < now - NONCE_WINDOW_S]:
        del used[stamp]
    return None


def check_key_permissions(key: ApiKey, http_method: str) -> None:
    if http_method in ("GET", "HEAD"):
        if key.permissions not in ("read", "read_write"):
            raise _auth_error("The API key provided does not have read permissions.")
    elif http_method in ("POST", "PUT", "PATCH", "DELETE"):
        if key.permissions not in ("write", "read_write"):
            raise _auth_error("The API key provided does not have write permissions.")
    elif http_method != "OPTIONS":
        raise _auth_error("Unknown request method.")
