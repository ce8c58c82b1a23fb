"""`/wc/v3/products` and `/products/{id}/variations`: catalogue reads, the writes we need, and deletion.

Real quirks kept: `?sku=` also finds variations; a variation is readable but not writable through
`/products/{id}`; `stock_quantity` is ignored (yet the save still fires `product.updated`) unless the
product manages stock; a trashed product keeps its id but leaves the lists and frees its SKU.

The item rules (`new_product`, `edit_product`, `remove_product` and their variation twins) take plain
arguments, so the batch endpoints (`batch.py`) run exactly the same rules per item.
"""
import re
from decimal import Decimal, InvalidOperation

from sandbox.woocommerce.errors import WooError, invalid_id, invalid_params
from sandbox.woocommerce.order_view import meta_view
from sandbox.woocommerce.orders import upsert_meta
from sandbox.woocommerce.rest import EDITABLE, Call, Route, collection, respond
from sandbox.woocommerce.state import Product, Store
from sandbox.woocommerce.wire import arg_bool, arg_date, arg_enum, arg_int, arg_int_list, wc_dates

VARIATION_MESSAGE = ("To manipulate product variations you should use the "
                     "/products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.")
TYPES = ("simple", "grouped", "external", "variable")
STATUSES = ("draft", "pending", "private", "publish", "future")


def _live(store: Store, ids: list[int]) -> list[Product]:
    return [store.products[i] for i in ids if i in store.products and store.products[i].status != "trash"]


def _price(store: Store, product: Product) -> str:
    if product.type == "variable":
        prices = [v.price for v in _live(store, product.variations) if v.price]
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
        "description": product.description, "short_description": "", "sku": product.sku,
        "price": _price(store, product),
        "regular_price": product.regular_price, "sale_price": product.sale_price, "on_sale": bool(product.sale_price),
        "purchasable": bool(_price(store, product)), "total_sales": product.total_sales, "virtual": False,
        "downloadable": False, "tax_status": product.tax_status, "tax_class": product.tax_class,
        "manage_stock": managed, "stock_quantity": product.stock_quantity if managed else None,
        "backorders": product.backorders, "backorders_allowed": product.backorders != "no",
        "backordered": False, "low_stock_amount": product.low_stock_amount, "sold_individually": False,
        "weight": "", "dimensions": {"length": "", "width": "", "height": ""}, "shipping_class": "",
        "parent_id": product.parent_id, "categories": [], "tags": [], "images": [],
        "attributes": product.attributes, "default_attributes": [],
        "variations": [v.id for v in _live(store, product.variations)],
        "meta_data": meta_view(product.meta), "stock_status": product.stock_status,
        "has_options": product.type == "variable",
        "_links": {"self": [{"href": f"{base}/{product.id}"}], "collection": [{"href": base}]},
    }
    view.update(_catalogue_fields(store, product))
    if product.parent_id:
        view["_links"]["up"] = [{"href": f"{base}/{product.parent_id}"}]
    return view


def edit_view(store: Store, view: dict) -> dict:
    """A write answers in the `edit` context, which adds the slug WordPress would generate and its template."""
    return {**view, "generated_slug": view["slug"], "permalink_template": f"{store.home_url}/product/%pagename%/"}


CURRENCY_SYMBOLS = {"EUR": "&euro;", "USD": "&#36;", "GBP": "&pound;"}


def _catalogue_fields(store: Store, product: Product) -> dict:
    """What a real store's product body carries beyond stock and price: empty here, but there."""
    price = _price(store, product)
    symbol = CURRENCY_SYMBOLS.get(store.config.currency, store.config.currency)
    fields = {
        "date_on_sale_from": None, "date_on_sale_from_gmt": None, "date_on_sale_to": None,
        "date_on_sale_to_gmt": None, "downloads": [], "download_limit": -1, "download_expiry": -1,
        "external_url": "", "button_text": "", "shipping_required": True, "shipping_taxable": True,
        "shipping_class_id": 0, "reviews_allowed": not product.parent_id, "average_rating": "0.00",
        "rating_count": 0, "upsell_ids": [], "cross_sell_ids": [], "purchase_note": "", "grouped_products": [],
        "menu_order": 0, "related_ids": [],
        "price_html": (f'<span class="woocommerce-Price-amount amount"><bdi><span class="woocommerce-Price-'
                       f'currencySymbol">{symbol}</span>{price}</bdi></span>') if price else "",
    }  # fmt: skip
    if store.config.generation >= 10:
        fields.update(brands=[], post_password="", global_unique_id="")
        if product.parent_id:  # attributes carry a slug from 9.x on: an option's is sanitised, a product's not
            fields["attributes"] = [{"id": a["id"], "name": a["name"], "slug": a["name"].lower(),
                                     "option": a["option"]} for a in product.attributes]  # fmt: skip
        else:
            fields["attributes"] = [{"id": a["id"], "name": a["name"], "slug": a["name"],
                                     **{k: v for k, v in a.items() if k not in ("id", "name")}}
                                    for a in product.attributes]  # fmt: skip
    return fields


def variation_view(store: Store, variation: Product) -> dict:
    view = product_view(store, variation)
    keep = ("id", "date_created", "date_created_gmt", "date_modified", "date_modified_gmt", "permalink", "sku",
            "price", "regular_price", "sale_price", "on_sale", "status", "purchasable", "virtual", "downloadable",
            "tax_status", "tax_class", "manage_stock", "stock_quantity", "stock_status", "backorders",
            "backorders_allowed", "backordered", "low_stock_amount", "weight", "dimensions", "shipping_class",
            "attributes", "meta_data", "date_on_sale_from", "date_on_sale_from_gmt", "date_on_sale_to",
            "date_on_sale_to_gmt", "downloads", "download_limit", "download_expiry", "shipping_class_id")
    if store.config.generation >= 10:  # 7.9's variation schema has no name, type or parent
        keep += ("name", "type", "parent_id", "global_unique_id")
    trimmed = {name: view[name] for name in keep}
    base = f"{store.home_url}/wp-json/wc/v3/products/{variation.parent_id}"
    trimmed.update(description=variation.description, image=None, menu_order=0, _links={
        "self": [{"href": f"{base}/variations/{variation.id}"}], "collection": [{"href": f"{base}/variations"}],
        "up": [{"href": base}]})
    return trimmed


def _list_args(call: Call) -> tuple[int, int, int | None]:
    return (arg_int(call.query, "page", default=1, minimum=1),
            arg_int(call.query, "per_page", default=10, minimum=1, maximum=100),
            arg_int(call.query, "offset", minimum=0))


def _sorted(call: Call, products: list[Product]) -> list[Product]:
    direction = arg_enum(call.query, "order", ("asc", "desc"), "desc")
    orderby = arg_enum(call.query, "orderby", ("date", "id", "include", "title", "slug", "modified", "price",
                                               "popularity", "rating", "menu_order"), "date")
    sort_keys = {"id": lambda p: (p.id,), "title": lambda p: (p.name, p.id), "modified": lambda p: (p.modified, p.id)}
    return sorted(products, key=sort_keys.get(orderby, lambda p: (p.created, p.id)), reverse=direction == "desc")


def _status_wanted(query: dict, product: Product) -> bool:
    """`status=any` (the default) leaves out the trash, as WordPress's `any` does."""
    status = query.get("status") or "any"
    return product.status == status or (status == "any" and product.status != "trash")


def list_products(call: Call):
    store, query = call.store, call.query
    page, per_page, offset = _list_args(call)
    include = arg_int_list(query, "include")
    modified_after = arg_date(query, "modified_after", store.tz)
    gmt = arg_bool(query, "dates_are_gmt")
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    skus = set(str(query["sku"]).split(",")) if query.get("sku") is not None else None

    def wanted(product: Product) -> bool:
        if skus is not None:
            if product.sku not in skus:
                return False
        elif product.type == "variation":
            return False
        modified = (product.modified if gmt else product.modified.astimezone(store.tz)).replace(tzinfo=None)
        return all((
            query.get("type") in (None, product.type), _status_wanted(query, product),
            query.get("stock_status") in (None, product.stock_status),
            "parent" not in query or str(product.parent_id) in str(query["parent"]).split(","),
            not include or product.id in include,
            modified_after is None or modified > modified_after,
        ))

    products = _sorted(call, [p for p in store.products.values() if wanted(p)])
    return collection(call, products, "products", page, per_page, offset, lambda p: product_view(store, p))


def _product(call: Call, missing_status: int) -> Product:
    product = call.store.products.get(int(call.path["id"]))
    if product is None:
        raise invalid_id("product", missing_status)
    return product


def get_product(call: Call):
    product = _product(call, 404)
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    return respond(call.store, product_view(call.store, product))


def intval(value) -> int:
    """PHP `(int)`: a string's leading integer (else 0), 1 for a non-empty array, 0 for an empty one or null."""
    if isinstance(value, (bool, int, float)):
        return int(value)
    if isinstance(value, str):
        match = re.match(r"\s*([+-]?\d+)", value)
        return int(match.group(1)) if match else 0
    return 1 if isinstance(value, (list, dict)) and value else 0


def _stock_quantity(body: dict, lenient: bool) -> int | None:
    raw = body.get("stock_quantity")
    if raw is None:
        return None
    if lenient:
        return intval(raw)  # `wc_stock_amount`
    if isinstance(raw, bool) or not str(raw).strip().lstrip("-").isdigit():
        raise invalid_params({"stock_quantity": "stock_quantity is not of type integer."})
    return int(str(raw).strip())


def _price_arg(body: dict, name: str, lenient: bool) -> str | None:
    raw = body.get(name)
    if raw is None:
        return None
    text = re.sub(r"[^0-9.\-]", "", str(raw)) if lenient else str(raw)  # `wc_format_decimal` keeps the number
    try:
        if text:
            Decimal(text)
    except InvalidOperation:
        if not lenient:
            raise invalid_params({name: f"{name} is not of type string."})
        text = ""
    return text


def _choice(body: dict, name: str, choices: tuple[str, ...], lenient: bool) -> str | None:
    raw = body.get(name)
    if raw is not None and not lenient and raw not in choices:
        raise invalid_params({name: f"{name} is not one of {', '.join(choices[:-1])}, and {choices[-1]}."})
    return None if raw is None else str(raw)


def _flag(body: dict, name: str, lenient: bool) -> bool | None:
    if body.get(name) is None:
        return None
    if lenient:
        return str(body[name]).lower() in ("1", "true", "yes")  # `wc_string_to_bool`
    return arg_bool(body, name)


def _title_key(name) -> str:
    """`sanitize_title`, by which attribute names are matched."""
    return re.sub(r"[^a-z0-9_]+", "-", str(name).strip().lower()).strip("-")


def _product_attributes(posted) -> list[dict]:
    """A product's own (non-taxonomy) attributes; `options` is a list or a `|`-separated string."""
    attributes = []
    for attribute in posted if isinstance(posted, list) else []:
        if not isinstance(attribute, dict) or not attribute.get("name"):
            continue
        options = attribute.get("options") or []
        if isinstance(options, str):
            options = options.split("|")
        attributes.append({"id": 0, "name": str(attribute["name"]), "position": len(attributes),
                           "visible": bool(attribute.get("visible")), "variation": bool(attribute.get("variation")),
                           "options": [str(o).strip() for o in options if str(o).strip()]})
    return attributes


def _variation_attributes(parent: Product, posted) -> list[dict]:
    """Only the parent's variation attributes count, matched by name; any other is dropped silently."""
    own = {_title_key(a["name"]): a["name"] for a in parent.attributes if a.get("variation")}
    chosen = []
    for attribute in posted if isinstance(posted, list) else []:
        name = own.get(_title_key(attribute.get("name", ""))) if isinstance(attribute, dict) else None
        if name is not None:
            chosen.append({"id": 0, "name": name, "option": str(attribute.get("option") or "")})
    return chosen


def _apply_product(store: Store, product: Product, body: dict, lenient: bool = False) -> None:
    """`prepare_object_for_database` for the fields the integration writes. Everything is checked before
    anything changes, as a refused save changes nothing. `lenient` = a batch item: WordPress validates a
    request's own parameters, not the items of a batch (contract §11: "abc" as stock is saved as 0)."""
    if product.sku in store.locked_skus:
        raise WooError(400, "product_locked", store.locked_skus[product.sku])
    quantity = _stock_quantity(body, lenient)
    prices = {name: _price_arg(body, name, lenient) for name in ("regular_price", "sale_price")}
    status = _choice(body, "status", STATUSES, lenient)
    manage_stock = _flag(body, "manage_stock", lenient)
    if body.get("sku") is not None and body["sku"] != product.sku:
        owner = store.product_by_sku(str(body["sku"]))
        if owner is not None:
            raise WooError(400, "product_invalid_sku", "Invalid or duplicated SKU.", resource_id=owner.id,
                           unique_sku=f"{body['sku']}-1")
        product.sku = str(body["sku"])
    if "attributes" in body:
        if product.type == "variation":
            parent = store.products[product.parent_id]
            product.attributes = _variation_attributes(parent, body["attributes"])
            options = ", ".join(a["option"] for a in product.attributes)
            product.name = f"{parent.name} - {options}" if options else parent.name  # `generate_product_title`
        else:
            product.attributes = _product_attributes(body["attributes"])
    names = ("tax_class", "tax_status", "backorders", "description")
    names += () if product.type == "variation" else ("name",)
    for name in names:
        if body.get(name) is not None:
            setattr(product, name, str(body[name]))
    if status is not None:
        product.status = status
    for name, price in prices.items():
        if price is not None:
            setattr(product, name, price)
    if manage_stock is not None:
        product.manage_stock = manage_stock
    if body.get("low_stock_amount") is not None:
        product.low_stock_amount = intval(body["low_stock_amount"])
    if product.manage_stock:
        if quantity is not None:
            product.stock_quantity = quantity
        product.recompute_stock_status()
    else:
        product.stock_quantity = None
        if product.type == "variation":
            product.backorders = "no"  # the variation controller, when stock ends up unmanaged
        if body.get("stock_status") in ("instock", "outofstock", "onbackorder"):
            product.stock_status = body["stock_status"]
    upsert_meta(store, product.meta, body.get("meta_data"))
    product.modified = store.now()


def _delete(store: Store, product: Product, force: bool, post_type: str) -> None:
    """`force` deletes for good (a variable product with its variations; no webhook: `product.deleted`
    listens to `wp_trash_post`); otherwise trash, which fires `product.deleted` for it and its variations."""
    family = [product, *(_live(store, product.variations) if product.type == "variable" else [])]
    if force:
        for member in family:
            store.products.pop(member.id, None)
        parent = store.products.get(product.parent_id)
        if parent is not None:
            parent.variations.remove(product.id)
        return
    if product.status == "trash":
        raise WooError(410, "woocommerce_rest_already_trashed", f"The {post_type} has already been deleted.")
    for member in family:
        member.status, member.modified = "trash", store.now()
        store.emit("product.deleted", member.id)


def new_product(store: Store, body: dict, lenient: bool = False) -> Product:
    if body.get("id"):
        raise WooError(400, "woocommerce_rest_product_exists", "Cannot create existing product.")
    kind = _choice(body, "type", TYPES, lenient)
    now = store.now()
    product = Product(0, "Product", "", kind if kind in TYPES else "simple", "", now, now)
    _apply_product(store, product, body, lenient)
    _insert(store, product)
    store.emit("product.created", product.id)
    return product


def _insert(store: Store, product: Product) -> None:
    """WooCommerce 10 refuses to insert a product whose SKU its lookup table holds, and that table keeps
    trashed products; an update to such a SKU goes through (only an insert is checked)."""
    if store.config.generation >= 10 and product.sku and any(p.sku == product.sku for p in store.products.values()):
        raise WooError(400, "woocommerce_rest_product_not_created",
                       f"The product with SKU ({product.sku}) you are trying to insert is already present in the "
                       "lookup table")
    product.id = store.next_post_id()
    store.products[product.id] = product


def edit_product(store: Store, product_id: int, body: dict, lenient: bool = False) -> Product:
    product = store.products.get(product_id)
    if product is None:
        raise invalid_id("product", 400)
    if product.type == "variation":
        raise WooError(404, "woocommerce_rest_invalid_product_id", VARIATION_MESSAGE)
    _apply_product(store, product, body, lenient)
    store.emit("product.updated", product.id)
    return product


def remove_product(store: Store, product_id: int, force: bool) -> dict:
    """Answers with the product as it was; a variation must go through its parent."""
    product = store.products.get(product_id)
    if product is None:
        raise invalid_id("product", 404)
    if product.type == "variation":
        raise WooError(404, "woocommerce_rest_invalid_product_id", VARIATION_MESSAGE)
    previous = product_view(store, product)
    _delete(store, product, force, "product")
    return previous


def _variation_of(store: Store, parent_id: int, variation_id: int, missing_status: int) -> Product:
    variation = store.products.get(variation_id)
    if variation is None or variation.type != "variation" or variation.parent_id != parent_id:
        raise invalid_id("product_variation", missing_status)
    return variation


def new_variation(store: Store, parent_id: int, body: dict, lenient: bool = False) -> Product:
    """Named after the parent and its options; inherits the parent's tax class."""
    if body.get("id"):
        raise WooError(400, "woocommerce_rest_product_variation_exists", "Cannot create existing product_variation.")
    parent = store.products.get(parent_id)
    if parent is None or parent.type != "variable":
        raise WooError(404, "woocommerce_rest_product_variation_invalid_parent",
                       "Cannot set attributes due to invalid parent product.")
    now = store.now()
    variation = Product(0, parent.name, "", "variation", "", now, now, tax_class=parent.tax_class,
                        parent_id=parent.id)
    _apply_product(store, variation, body, lenient)
    _insert(store, variation)
    parent.variations.append(variation.id)
    store.emit("product.created", variation.id)
    return variation


def edit_variation(store: Store, parent_id: int, variation_id: int, body: dict, lenient: bool = False) -> Product:
    """WooCommerce 10 refuses an option named through a product that is not its parent; 7.9 makes the
    route's product its parent, so a write through another variable product moves the option, silently."""
    if store.config.generation >= 10:
        variation = _variation_of(store, parent_id, variation_id, 400)
    else:
        variation, parent = store.products.get(variation_id), store.products.get(parent_id)
        if variation is None or variation.type != "variation" or parent is None or parent.type != "variable":
            raise invalid_id("product_variation", 400)
    if variation.parent_id != parent_id:
        store.products[variation.parent_id].variations.remove(variation.id)
        parent.variations.append(variation.id)
        variation.parent_id = parent_id
    _apply_product(store, variation, body, lenient)
    store.emit("product.updated", variation.id)
    return variation


def remove_variation(store: Store, parent_id: int, variation_id: int, force: bool) -> dict:
    variation = _variation_of(store, parent_id, variation_id, 404)
    previous = variation_view(store, variation)
    _delete(store, variation, force, "product_variation")
    return previous


def create_product(call: Call):
    store = call.store
    call.require_user("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    product = new_product(store, call.body)
    location = f"{store.home_url}/wp-json/wc/v3/products/{product.id}"
    return respond(store, edit_view(store, product_view(store, product)), 201, {"Location": location})


def update_product(call: Call):
    product = _product(call, 400)
    call.require_user("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
    return respond(call.store, edit_view(call.store, product_view(call.store, edit_product(call.store, product.id,
                                                                                         call.body))))  # fmt: skip


def delete_product(call: Call):
    _product(call, 404)
    call.require_user("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
    removed = remove_product(call.store, int(call.path["id"]), arg_bool(call.params, "force"))
    return respond(call.store, edit_view(call.store, removed))


def _parent(call: Call) -> Product:
    parent = call.store.products.get(int(call.path["product_id"]))
    if parent is None or parent.type == "variation":
        raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    return parent


def list_variations(call: Call):
    page, per_page, offset = _list_args(call)
    include = arg_int_list(call.query, "include")
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    parent = _parent(call)
    variations = _sorted(call, [v for v in _live(call.store, parent.variations) if _status_wanted(call.query, v)
                                and (not include or v.id in include)])
    views = [variation_view(call.store, v) for v in variations]
    return collection(call, views, f"products/{parent.id}/variations", page, per_page, offset)


def get_variation(call: Call):
    call.require_user("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    variation = _variation_of(call.store, _parent(call).id, int(call.path["id"]), 404)
    return respond(call.store, variation_view(call.store, variation))


def create_variation(call: Call):
    store, parent_id = call.store, int(call.path["product_id"])
    call.require_user("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    variation = new_variation(store, parent_id, call.body)
    location = f"{store.home_url}/wp-json/wc/v3/products/{parent_id}/variations/{variation.id}"
    return respond(store, variation_view(store, variation), 201, {"Location": location})


def update_variation(call: Call):
    """As the variation controller: if stock is not managed in the end, quantity is cleared, backorders=no."""
    call.require_user("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
    parent_id = _parent(call).id
    variation = edit_variation(call.store, parent_id, int(call.path["id"]), call.body)
    return respond(call.store, variation_view(call.store, variation))


def delete_variation(call: Call):
    call.require_user("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
    force = arg_bool(call.params, "force")
    return respond(call.store, remove_variation(call.store, _parent(call).id, int(call.path["id"]), force))


ROUTES = [
    Route(("GET",), "products", list_products),
    Route(("POST",), "products", create_product),
    Route(("GET",), r"products/(?P<id>\d+)", get_product),
    Route(EDITABLE, r"products/(?P<id>\d+)", update_product),
    Route(("DELETE",), r"products/(?P<id>\d+)", delete_product),
    Route(("GET",), r"products/(?P<product_id>\d+)/variations", list_variations),
    Route(("POST",), r"products/(?P<product_id>\d+)/variations", create_variation),
    Route(("GET",), r"products/(?P<product_id>\d+)/variations/(?P<id>\d+)", get_variation),
    Route(EDITABLE, r"products/(?P<product_id>\d+)/variations/(?P<id>\d+)", update_variation),
    Route(("DELETE",), r"products/(?P<product_id>\d+)/variations/(?P<id>\d+)", delete_variation),
]
