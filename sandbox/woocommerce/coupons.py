"""`/wc/v3/coupons`: codes are lower-cased and unique among live coupons, amounts are saved as decimals
and shown with two places. WooCommerce 10 trashes on a plain DELETE; 7.9 refuses it (coupons had no
trash in its REST controller) and deletes only with `force`. Restrictions (usage limits, products,
e-mails, expiry) are shown at their defaults: orders here price coupons by type and amount only."""
from decimal import Decimal, InvalidOperation

from sandbox.woocommerce.errors import WooError, invalid_id
from sandbox.woocommerce.rest import EDITABLE, Call, Route, collection, respond
from sandbox.woocommerce.state import Coupon, Store
from sandbox.woocommerce.wire import arg_bool, arg_enum, arg_int, money, require_fields_error, wc_dates

DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")


def coupon_view(store: Store, coupon: Coupon) -> dict:
    created, created_gmt = wc_dates(coupon.created, store.tz)
    modified, modified_gmt = wc_dates(coupon.modified, store.tz)
    base = f"{store.home_url}/wp-json/wc/v3/coupons"
    return {
        "id": coupon.id, "code": coupon.code, "amount": money(coupon.amount), "status": coupon.status,
        "date_created": created, "date_created_gmt": created_gmt,
        "date_modified": modified, "date_modified_gmt": modified_gmt,
        "discount_type": coupon.discount_type, "description": coupon.description,
        "date_expires": None, "date_expires_gmt": None, "usage_count": 0, "individual_use": False,
        "product_ids": [], "excluded_product_ids": [], "usage_limit": None, "usage_limit_per_user": None,
        "limit_usage_to_x_items": None, "free_shipping": False, "product_categories": [],
        "excluded_product_categories": [], "exclude_sale_items": False, "minimum_amount": "0.00",
        "maximum_amount": "0.00", "email_restrictions": [], "used_by": [], "meta_data": [],
        "_links": {"self": [{"href": f"{base}/{coupon.id}"}], "collection": [{"href": base}]},
    }


def _coupon(call: Call, missing_status: int) -> Coupon:
    wanted = int(call.path["id"])
    found = next((c for c in call.store.coupons.values() if c.id == wanted), None)
    if found is None:
        raise invalid_id("shop_coupon", missing_status)
    return found


def _amount(raw) -> Decimal:
    """`wc_format_decimal`: what is not a number saves as 0."""
    try:
        return Decimal(str(raw).strip()) if str(raw).strip() else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _apply(store: Store, coupon: Coupon, body: dict) -> None:
    if "discount_type" in body:
        coupon.discount_type = arg_enum(body, "discount_type", DISCOUNT_TYPES, "fixed_cart")
    if "code" in body:
        code = str(body["code"]).strip().lower()
        taken = store.coupons.get(code)
        if taken is not None and taken is not coupon and taken.status != "trash":
            raise WooError(400, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists")
        store.coupons.pop(coupon.code, None)
        coupon.code = code
    if "amount" in body:
        coupon.amount = _amount(body["amount"])
    if "description" in body:
        coupon.description = str(body["description"])
    coupon.modified = store.now()
    store.coupons[coupon.code] = coupon


def list_coupons(call: Call):
    page = arg_int(call.query, "page", default=1, minimum=1)
    per_page = arg_int(call.query, "per_page", default=10, minimum=1, maximum=100)
    offset = arg_int(call.query, "offset", minimum=0)
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    code = str(call.query["code"]).strip().lower() if call.query.get("code") else None
    coupons = sorted((c for c in call.store.coupons.values() if c.status == "publish" and code in (None, c.code)),
                     key=lambda c: (c.created or c.modified, c.id), reverse=True)  # fmt: skip
    return collection(call, coupons, "coupons", page, per_page, offset, lambda c: coupon_view(call.store, c))


def create_coupon(call: Call):
    store, body = call.store, call.body
    if "code" not in body:
        raise require_fields_error(["code"])
    if "discount_type" in body:
        arg_enum(body, "discount_type", DISCOUNT_TYPES, "fixed_cart")
    if body.get("id"):
        raise WooError(400, "woocommerce_rest_shop_coupon_exists", "Cannot create existing shop_coupon.")
    call.require_user("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    now = store.now()
    coupon = Coupon("", "fixed_cart", Decimal(0), created=now, modified=now)
    _apply(store, coupon, body)
    coupon.id = store.next_post_id()
    location = f"{store.home_url}/wp-json/wc/v3/coupons/{coupon.id}"
    return respond(store, coupon_view(store, coupon), 201, {"Location": location})


def get_coupon(call: Call):
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    return respond(call.store, coupon_view(call.store, _coupon(call, 404)))


def update_coupon(call: Call):
    coupon = _coupon(call, 400)
    call.require_user("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
    _apply(call.store, coupon, call.body)
    return respond(call.store, coupon_view(call.store, coupon))


def delete_coupon(call: Call):
    store, coupon = call.store, _coupon(call, 404)
    call.require_user("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
    previous = coupon_view(store, coupon)
    if arg_bool(call.params, "force"):
        del store.coupons[coupon.code]
    elif store.config.generation < 10:
        raise WooError(500, "woocommerce_rest_cannot_delete", "The shop_coupon cannot be deleted.")
    elif coupon.status == "trash":
        raise WooError(410, "woocommerce_rest_already_trashed", "The shop_coupon has already been deleted.")
    else:
        coupon.status, coupon.modified = "trash", store.now()
    return respond(store, previous)


ROUTES = [
    Route(("GET",), "coupons", list_coupons),
    Route(("POST",), "coupons", create_coupon),
    Route(("GET",), r"coupons/(?P<id>\d+)", get_coupon),
    Route(EDITABLE, r"coupons/(?P<id>\d+)", update_coupon),
    Route(("DELETE",), r"coupons/(?P<id>\d+)", delete_coupon),
]
