"""WordPress wire conventions: JSON with escaped slashes, 2-dp money strings, offset-less dates, PHP-style queries."""
import json
import re
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

from starlette.responses import Response

from sandbox.woocommerce.errors import WooError, invalid_params

CENT = Decimal("0.01")


def wp_json(data) -> bytes:
    """`wp_json_encode`: compact, ASCII-only, `/` escaped; receivers must verify signatures on these exact bytes."""
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


class WPResponse(Response):
    media_type = "application/json; charset=UTF-8"

    def render(self, content) -> bytes:
        return wp_json(content)


def money(amount: Decimal, dp: int = 2) -> str:
    """`wc_format_decimal($amount, dp)`: rounded half away from zero, fixed decimals."""
    return f"{amount.quantize(Decimal(1).scaleb(-dp), ROUND_HALF_UP):.{dp}f}"


def raw_decimal(amount: Decimal) -> str:
    """A stored amount as WooCommerce keeps it in item meta (no padding): "9", "8.1", "0"."""
    text = f"{amount.normalize():f}"
    return "0" if text in ("-0", "0") else text


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def json_price(total: Decimal, quantity: int):
    """`line_items[].price` = total / quantity as PHP divides numeric strings: int when exact, else float."""
    if not quantity:
        return 0
    value = total / quantity
    return int(value) if value == value.to_integral_value() else float(value)


def wc_dates(moment: datetime | None, tz: ZoneInfo) -> tuple[str | None, str | None]:
    """(site-local, GMT) renderings of one UTC instant, `Y-m-d\\TH:i:s` without offset."""
    if moment is None:
        return None, None
    fmt = "%Y-%m-%dT%H:%M:%S"
    return moment.astimezone(tz).strftime(fmt), moment.astimezone(timezone.utc).strftime(fmt)


_REST_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$")


def query_wall_time(value: str, tz: ZoneInfo) -> datetime:
    """How `WP_Date_Query` reads an after/before value: an offset converts to the site's wall time,
    no offset is taken as-is; the result is compared with the local or the GMT column alike."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("t", "T"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(tz).replace(tzinfo=None)
    return parsed.replace(microsecond=0)


def parse_php_query(query: str) -> dict:
    """`$_GET` semantics: `a[]=x&a[]=y` → list, `a[k]=v` → dict, a repeated plain key → the last one."""
    params: dict = {}
    for pair in filter(None, query.split("&")):
        raw_key, _, raw_value = pair.partition("=")
        key, value = unquote_plus(raw_key), unquote_plus(raw_value)
        base, bracket, rest = key.partition("[")
        if not bracket:
            params[key] = value
        elif rest == "]":
            existing = params.get(base)
            params[base] = (existing if isinstance(existing, list) else []) + [value]
        else:
            existing = params.get(base)
            target = existing if isinstance(existing, dict) else {}
            target[rest.split("]", 1)[0]] = value
            params[base] = target
    return params


def add_query_args(base: str, params: dict) -> str:
    """`add_query_arg()` with the request's decoded params: values are NOT re-encoded, like WordPress."""
    parts = []
    for key, value in params.items():
        if isinstance(value, list):
            parts += [f"{key}[{i}]={v}" for i, v in enumerate(value)]
        elif isinstance(value, dict):
            parts += [f"{key}[{k}]={v}" for k, v in value.items()]
        else:
            parts.append(f"{key}={value}")
    return f"{base}?{'&'.join(parts)}" if parts else base


# Argument coercion with WordPress's validation messages.


def arg_int(params: dict, name: str, default: int | None = None, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        value = None
    if value is None or (isinstance(raw, str) and not re.fullmatch(r"-?\d+", raw.strip())):
        raise invalid_params({name: f"{name} is not of type integer."})
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise invalid_params({name: f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)"})
    if minimum is not None and value < minimum:
        raise invalid_params({name: f"{name} must be greater than or equal to {minimum}"})
    return value


def arg_bool(params: dict, name: str, default: bool = False) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no", ""):
        return False
    raise invalid_params({name: f"{name} is not of type boolean."})


def arg_list(params: dict, name: str) -> list[str]:
    """`wp_parse_list`: an array, or a string split on commas and spaces."""
    raw = params.get(name)
    if raw is None:
        return []
    if isinstance(raw, dict):
        raw = list(raw.values())
    if isinstance(raw, list):
        return [str(v) for v in raw]
    return [part for part in re.split(r"[\s,]+", str(raw)) if part]


def arg_int_list(params: dict, name: str) -> list[int]:
    """`wp_parse_id_list`: PHP's `absint` of each item, so "12x" is 12 and "a" is 0 (an id nothing has)."""
    ids = []
    for value in arg_list(params, name):
        number = re.match(r"\s*[+-]?(\d*)", value).group(1)
        if (found := int(number or 0)) not in ids:
            ids.append(found)
    return ids


def arg_enum(params: dict, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if value not in allowed:
        raise invalid_params({name: f"{name} is not one of {_wp_list(allowed)}."})
    return value


def arg_date(params: dict, name: str, tz: ZoneInfo) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str) or not _REST_DATE.match(raw):
        raise invalid_params({name: "Invalid date."})
    return query_wall_time(raw, tz)


def _wp_list(items: tuple[str, ...]) -> str:
    """`wp_sprintf('%l')`: "a, b, and c"."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def require_fields_error(names: list[str]) -> WooError:
    return WooError(400, "rest_missing_callback_param", f"Missing parameter(s): {', '.join(names)}", params=names)
