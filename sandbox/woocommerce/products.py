"""`/wc/v3/products` and `/products/{id}/variations`: catalogue reads and the stock/price writes we need.

Real quirks kept: `?sku=` also finds variations; a variation is readable but not writable through
`/products/{id}`; `stock_quantity` is ignored (yet the save still fires `product.updated`) unless the
product manages stock.
"""
from decimal import Decimal, InvalidOperation

from sandbox.woocommerce.errors import WooError, invalid_id, invalid_params
from sandbox.woocommerce.order_view import meta_view
from sandbox.woocommerce.orders import upsert_meta
from sandbox.woocommerce.rest import EDITABLE, Call, Route, collection, respond
from sandbox.woocommerce.state import Product, Store
from sandbox.woocommerce.wire import arg_bool, arg_date, arg_enum, arg_int, arg_int_list, wc_dates

VARIATION_MESSAGE = ("To manipulate product variations you should use the "
                     "/products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.")


def _price(store: Store, product: Product) -> str:
    if product.type == "variable":
        prices = [store.products[v].price for v in product.variations if store.products[v].price]
        return min(prices, key=Decimal) if prices else ""
    return product.price


def product_view(store: Store, product: Product) -> dict:
    created, created_gmt = wc_dates(product.created, store.tz)
    modified, modified_gmt = wc_dates(product.modified, store.tz)
    base = f"{store.home_url}/wp-json/wc/v3/products"
    managed = product.manage_stock
    view = {
        "id": product.id, "name": product.name, "slug": product.name.lower().replace(" ", "-"),
        "permalink": f"{store.home_url}/?p={product.id}", "date_created": created,
        "date_created_gmt": created_gmt, "date_modified": modified, "date_modified_gmt": modified_gmt,
        "type": product.type, "status": product.status, "featured": False, "catalog_visibility": "visible",
        "description": "", "short_description": "", "sku": product.sku, "price": _price(store, product),
        "regular_price": product.regular_price, "sale_price": product.sale_price, "on_sale": bool(product.sale_price),
        "purchasable": bool(_price(store, product)), "total_sales": product.total_sales, "virtual": False,
        "downloadable": False, "tax_status": product.tax_status, "tax_class": product.tax_class,
        "manage_stock": managed, "stock_quantity": product.stock_quantity if managed else None,
        "backorders": product.backorders, "backorders_allowed": product.backorders != "no",
        "backordered": False, "low_stock_amount": product.low_stock_amount, "sold_individually": False,
        "weight": "", "dimensions": {"length": "", "width": "", "height": ""}, "shipping_class": "",
        "parent_id": product.parent_id, "categories": [], "tags": [], "images": [],
        "attributes": product.attributes, "default_attributes": [], "variations": list(product.variations),
        "meta_data": meta_view(product.meta), "stock_status": product.stock_status,
        "has_options": product.type == "variable",
        "_links": {"self": [{"href": f"{base}/{product.id}"}], "collection": [{"href": base}]},
    }
    if product.parent_id:
        view["_links"]["up"] = [{"href": f"{base}/{product.parent_id}"}]
    return view


def variation_view(store: Store, variation: Product) -> dict:
    view = product_view(store, variation)
    keep = ("id", "date_created", "date_created_gmt", "date_modified", "date_modified_gmt", "permalink", "sku",
            "price", "regular_price", "sale_price", "on_sale", "status", "purchasable", "virtual", "downloadable",
            "tax_status", "tax_class", "manage_stock", "stock_quantity", "stock_status", "backorders",
            "backorders_allowed", "backordered", "low_stock_amount", "weight", "dimensions", "shipping_class",
            "attributes", "meta_data", "name", "type", "parent_id")
    trimmed = {name: view[name] for name in keep}
    base = f"{store.home_url}/wp-json/wc/v3/products/{variation.parent_id}"
    trimmed.update(description="", image=None, menu_order=0, _links={
        "self": [{"href": f"{base}/variations/{variation.id}"}], "collection": [{"href": f"{base}/variations"}],
        "up": [{"href": base}]})
    return trimmed


def _list_args(call: Call) -> tuple[int, int, int | None]:
    return (arg_int(call.query, "page", default=1, minimum=1),
            arg_int(call.query, "per_page", default=10, minimum=1, maximum=100),
            arg_int(call.query, "offset", minimum=0))


def list_products(call: Call):
    store, query = call.store, call.query
    page, per_page, offset = _list_args(call)
    direction = arg_enum(query, "order", ("asc", "desc"), "desc")
    orderby = arg_enum(query, "orderby", ("date", "id", "include", "title", "slug", "modified", "price",
                                          "popularity", "rating", "menu_order"), "date")
    include = arg_int_list(query, "include")
    modified_after = arg_date(query, "modified_after", store.tz)
    gmt = arg_bool(query, "dates_are_gmt")
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    sku = query.get("sku")

    def wanted(product: Product) -> bool:
        if sku is not None:
            if product.sku not in str(sku).split(","):
                return False
        elif product.type == "variation":
            return False
        modified = (product.modified if gmt else product.modified.astimezone(store.tz)).replace(tzinfo=None)
        return all((
            query.get("type") in (None, product.type), query.get("status") in (None, "any", product.status),
            query.get("stock_status") in (None, product.stock_status),
            "parent" not in query or str(product.parent_id) in str(query["parent"]).split(","),
            not include or product.id in include,
            modified_after is None or modified > modified_after,
        ))

    products = [p for p in store.products.values() if wanted(p)]
    sort_keys = {"id": lambda p: (p.id,), "title": lambda p: (p.name, p.id), "modified": lambda p: (p.modified, p.id)}
    products.sort(key=sort_keys.get(orderby, lambda p: (p.created, p.id)), reverse=direction == "desc")
    return collection(call, [product_view(store, p) for p in products], "products", page, per_page, offset)


def _product(call: Call, missing_status: int) -> Product:
    product = call.store.products.get(int(call.path["id"]))
    if product is None:
        raise invalid_id("product", missing_status)
    return product


def get_product(call: Call):
    product = _product(call, 404)
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    return respond(call.store, product_view(call.store, product))


def _stock_quantity(body: dict) -> int | None:
    raw = body.get("stock_quantity")
    if raw is None:
        return None
    if isinstance(raw, bool) or not str(raw).strip().lstrip("-").isdigit():
        raise invalid_params({"stock_quantity": "stock_quantity is not of type integer."})
    return int(str(raw).strip())


def _price_arg(body: dict, name: str) -> str | None:
    raw = body.get(name)
    if raw is None:
        return None
    try:
        if str(raw):
            Decimal(str(raw))
    except InvalidOperation:
        raise invalid_params({name: f"{name} is not of type string."})
    return str(raw)


def _apply_product(store: Store, product: Product, body: dict) -> None:
    """`prepare_object_for_database` for the fields the integration writes."""
    quantity = _stock_quantity(body)
    if body.get("sku") is not None and body["sku"] != product.sku:
        owner = store.product_by_sku(str(body["sku"]))
        if owner is not None:
            raise WooError(400, "product_invalid_sku", "Invalid or duplicated SKU.", resource_id=owner.id,
                           unique_sku=f"{body['sku']}-1")
        product.sku = str(body["sku"])
    for name in ("name", "status", "tax_class", "tax_status", "backorders"):
        if body.get(name) is not None:
            setattr(product, name, str(body[name]))
    for name in ("regular_price", "sale_price"):
        if (price := _price_arg(body, name)) is not None:
            setattr(product, name, price)
    if "manage_stock" in body:
        product.manage_stock = arg_bool(body, "manage_stock")
    if body.get("low_stock_amount") is not None:
        product.low_stock_amount = int(body["low_stock_amount"])
    if product.manage_stock:
        if quantity is not None:
            product.stock_quantity = quantity
        product.recompute_stock_status()
    else:
        product.stock_quantity = None
        if body.get("stock_status") in ("instock", "outofstock", "onbackorder"):
            product.stock_status = body["stock_status"]
    upsert_meta(store, product.meta, body.get("meta_data"))
    product.modified = store.now()


def create_product(call: Call):
    store, body = call.store, call.body
    if body.get("id"):
        raise WooError(400, "woocommerce_rest_product_exists", "Cannot create existing product.")
    call.require_user("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    now = store.now()
    product = Product(store.next_post_id(), "Product", "", str(body.get("type") or "simple"), "", now, now)
    _apply_product(store, product, body)
    store.products[product.id] = product
    store.emit("product.created", product.id)
    location = f"{store.home_url}/wp-json/wc/v3/products/{product.id}"
    return respond(store, product_view(store, product), 201, {"Location": location})


def update_product(call: Call):
    product = _product(call, 400)
    call.require_user("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
    if product.type == "variation":
        raise WooError(404, "woocommerce_rest_invalid_product_id", VARIATION_MESSAGE)
    _apply_product(call.store, product, call.body)
    call.store.emit("product.updated", product.id)
    return respond(call.store, product_view(call.store, product))


def _parent(call: Call) -> Product:
    parent = call.store.products.get(int(call.path["product_id"]))
    if parent is None or parent.type == "variation":
        raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    return parent


def _variation(call: Call, missing_status: int) -> Product:
    parent = _parent(call)
    variation_id = int(call.path["id"])
    if variation_id not in parent.variations:
        raise invalid_id("product_variation", missing_status)
    return call.store.products[variation_id]


def list_variations(call: Call):
    page, per_page, offset = _list_args(call)
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    parent = _parent(call)
    views = [variation_view(call.store, call.store.products[v]) for v in sorted(parent.variations, reverse=True)]
    return collection(call, views, f"products/{parent.id}/variations", page, per_page, offset)


def get_variation(call: Call):
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    return respond(call.store, variation_view(call.store, _variation(call, 404)))


def update_variation(call: Call):
    """As the variation controller: if stock is not managed in the end, quantity is cleared, backorders=no."""
    call.require_user("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
    variation = _variation(call, 400)
    _apply_product(call.store, variation, call.body)
    if not variation.manage_stock:
        variation.backorders = "no"
    call.store.emit("product.updated", variation.id)
    return respond(call.store, variation_view(call.store, variation))


ROUTES = [
    Route(("GET",), "products", list_products),
    Route(("POST",), "products", create_product),
    Route(("GET",), r"products/(?P<id>\d+)", get_product),
    Route(EDITABLE, r"products/(?P<id>\d+)", update_product),
    Route(("GET",), r"products/(?P<product_id>\d+)/variations", list_variations),
    Route(("GET",), r"products/(?P<product_id>\d+)/variations/(?P<id>\d+)", get_variation),
    Route(EDITABLE, r"products/(?P<product_id>\d+)/variations/(?P<id>\d+)", update_variation),
]
