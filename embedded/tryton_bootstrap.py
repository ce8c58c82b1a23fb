"""Turn a freshly initialised Tryton database into the demo retailer's ERP.

Runs in its own interpreter (`python -m embedded.tryton_bootstrap CONF DB`, settings as
JSON on stdin so the integration password never reaches argv or a log), because proteus
loads the whole Tryton pool into the process that calls it.

Everything the integration relies on is created here, as admin: the EUR company, its
chart of accounts and fiscal years, one tax per store tax rate, the demo catalogue with
stock, every country, the `integration` user, the web shop whose `web_id`s make sale
creation idempotent, the payment method that records store payments on invoices, and the
web price list whose lower prices are the stores' sale prices.
"""
import datetime as dt
import json
import sys
from decimal import Decimal
from itertools import groupby

from proteus import Model, Wizard
from proteus import config as proteus_config

from embedded import demo_catalog
from embedded.countries import COUNTRIES

MODULES = ("sale", "web_shop", "sale_price_list", "product_attribute", "retail_sync")
COMPANY_NAME = "Retail Sync Demo"
COMPANY_COUNTRY = "FR"
CHART = "account.account_template_root_en"
TAX_ACCOUNT_CODE = "6.3.4"  # "Excise And Sales Taxes" in Tryton's English chart
CASH_ACCOUNT_CODE = "1.1.1"  # "Cash and Cash Equivalents" in Tryton's English chart
INTEGRATION_GROUPS = (
    "Sales",
    "Sales Administrator",
    "Stock",
    "Stock Administration",
    "Stock Force Assignment",  # the 3PL's shipments are the physical truth, even when Tryton's stock is short
    "Accounting",
    "Product Administration",
    "Party Administration",
    "retail-sync integration",  # may run the steps of our Tryton module (adapters/tryton_module)
)
CATALOGUE_MANAGER = ("catalogue", "catalogue-pass-123")
"""The merchant's ERP back office in the demo database: adds products (with their accounting category),
variants and price-list prices, and books goods received into stock."""
CATALOGUE_GROUPS = ("Product Administration", "Account Product Administration", "Stock", "Stock Administration")
WEB_PRICE_LIST = "Web sale"
"""The price list whose prices, when lower than the list price, the stores show as sale prices."""
SIZE = ("size", "Size")
"""The attribute (key, label) the demo's variable products vary by, as the demo store names it."""


def main(config_file: str, database: str, settings: dict) -> None:
    proteus_config.set_trytond(database, config_file=config_file)
    countries = create_countries()
    eur = create_currency()
    company = create_company(eur, countries[COMPANY_COUNTRY])
    accounts = create_chart(company)
    for year in (dt.date.today().year, dt.date.today().year + 1):
        create_fiscal_year(company, year)
    create_payment_method(company, settings["payment_method"])
    taxes = create_taxes(accounts["tax"])
    create_default_payment_term()
    categories = create_tax_categories(taxes, accounts)
    goods = create_catalogue(categories, create_sizes())
    create_services(categories[""])
    stock_goods(goods)
    create_waste_locations(settings["quarantine_location"])
    create_user(company, "retail-sync integration", settings["user"], settings["password"], INTEGRATION_GROUPS)
    create_user(company, "Catalogue manager", *CATALOGUE_MANAGER, CATALOGUE_GROUPS)
    create_web_shop(company, eur, settings["web_shop"])
    create_price_list(company, WEB_PRICE_LIST)


def create_countries() -> dict:
    Country = Model.get("country.country")
    created = Country.create([{"code": code, "name": name} for code, name in COUNTRIES], {})
    return dict(zip((code for code, _ in COUNTRIES), created))


def create_currency():
    Currency = Model.get("currency.currency")
    currency = Currency(name="Euro", symbol="€", code=demo_catalog.CURRENCY, rounding=Decimal("0.01"), digits=2)
    currency.save()
    return currency


def create_company(currency, country_id: int):
    Party = Model.get("party.party")
    User = Model.get("res.user")
    party = Party(name=COMPANY_NAME)
    address = party.addresses[0] if party.addresses else party.addresses.new()
    address.country = Model.get("country.country")(country_id)
    party.save()
    wizard = Wizard("company.company.config")
    wizard.execute("company")
    wizard.form.party = party
    wizard.form.currency = currency
    wizard.execute("add")
    proteus_config.get_config()._context = User.get_preferences(True, {})
    (company,) = Model.get("company.company").find()
    return company


def create_chart(company) -> dict:
    """Tryton's generic English chart; its receivable/payable/revenue/expense become the defaults."""
    ModelData = Model.get("ir.model.data")
    Account = Model.get("account.account")
    config = proteus_config.get_config()
    wizard = Wizard("account.create_chart")
    wizard.execute("account")
    wizard.form.account_template = Model.get("account.account.template")(ModelData.get_id(CHART, config.context))
    wizard.form.company = company
    wizard.execute("create_account")

    def account(domain):
        (found,) = Account.find([("company", "=", company.id), ("closed", "!=", True), *domain], limit=1)
        return found

    kinds = ("receivable", "payable", "revenue", "expense")
    accounts = {kind: account([(f"type.{kind}", "=", True)]) for kind in kinds}
    accounts["tax"] = account([("code", "=", TAX_ACCOUNT_CODE)])
    wizard.form.account_receivable = accounts["receivable"]
    wizard.form.account_payable = accounts["payable"]
    wizard.form.category_account_revenue = accounts["revenue"]
    wizard.form.category_account_expense = accounts["expense"]
    wizard.execute("create_properties")
    return accounts


def create_payment_method(company, name: str) -> None:
    """Store payments (card, PayPal, ...) land in the cash account through the cash journal."""
    (journal,) = Model.get("account.journal").find([("type", "=", "cash")], limit=1)
    (cash,) = Model.get("account.account").find([("company", "=", company.id), ("code", "=", CASH_ACCOUNT_CODE)])
    method = Model.get("account.invoice.payment.method")(
        name=name, company=company, journal=journal, credit_account=cash, debit_account=cash
    )
    method.save()


def create_fiscal_year(company, year: int) -> None:
    """A calendar year with monthly periods and its own move and invoice sequences."""
    FiscalYear = Model.get("account.fiscalyear")
    Sequence = Model.get("ir.sequence.strict")
    SequenceType = Model.get("ir.sequence.type")

    def sequence(type_name):
        (sequence_type,) = SequenceType.find([("name", "=", type_name)], limit=1)
        sequence = Sequence(name=f"{type_name} {year}", sequence_type=sequence_type, company=company)
        sequence.save()
        return sequence

    fiscal_year = FiscalYear(
        name=str(year),
        start_date=dt.date(year, 1, 1),
        end_date=dt.date(year, 12, 31),
        company=company,
        move_sequence=sequence("Account Move"),
    )
    invoice_sequence = sequence("Invoice")
    (sequences,) = fiscal_year.invoice_sequences
    for kind in ("out_invoice", "in_invoice", "out_credit_note", "in_credit_note"):
        setattr(sequences, f"{kind}_sequence", invoice_sequence)
    fiscal_year.click("create_period")


def create_taxes(account) -> dict:
    """One customer VAT per store tax class, with the store's rate."""
    Tax = Model.get("account.tax")
    TaxGroup = Model.get("account.tax.group")
    group = TaxGroup(name="VAT", code="VAT", kind="sale")
    group.save()
    taxes = {}
    for rate in demo_catalog.TAX_RATES:
        tax = Tax(
            name=rate.name,
            description=rate.name,
            group=group,
            type="percentage",
            rate=rate.percent / 100,
            invoice_account=account,
            credit_note_account=account,
        )
        tax.save()
        taxes[rate.tax_class] = tax
    return taxes


def create_default_payment_term() -> None:
    PaymentTerm = Model.get("account.invoice.payment_term")
    term = PaymentTerm(name="Direct")
    term.lines.new(type="remainder")
    term.save()
    configuration = Model.get("account.configuration")(1)
    configuration.default_customer_payment_term = term
    configuration.save()


def create_tax_categories(taxes: dict, accounts: dict) -> dict:
    """An accounting category per tax class: it gives products their revenue account and VAT."""
    Category = Model.get("product.category")
    categories = {}
    for tax_class, tax in taxes.items():
        category = Category(name=tax.name, accounting=True)
        category.account_revenue = accounts["revenue"]
        category.account_expense = accounts["expense"]
        category.customer_taxes.append(tax)
        category.save()
        categories[tax_class] = category
    return categories


def create_sizes():
    """The size attribute, with every size the demo's variations use (the SKU's last part, as in the store)."""
    Attribute = Model.get("product.attribute")
    sizes = dict.fromkeys(p.sku.rsplit("-", 1)[-1] for p in demo_catalog.PRODUCTS if p.parent_sku)
    key, label = SIZE
    attribute = Attribute(name=key, string=label, type_="selection", selection="\n".join(f"{s}:{s}" for s in sizes))
    attribute.save()
    attribute_set = Model.get("product.attribute.set")(name=label)
    attribute_set.attributes.append(attribute)
    attribute_set.save()
    return attribute_set


def create_catalogue(categories: dict, sizes) -> list:
    """Goods per demo product; variations share a template whose code is the parent SKU, sized by attribute."""
    Template = Model.get("product.template")
    (unit,) = Model.get("product.uom").find([("name", "=", "Unit")])
    goods = []
    for parent_sku, group in groupby(demo_catalog.PRODUCTS, key=lambda p: p.parent_sku or p.sku):
        variants = list(group)
        first = variants[0]
        is_variable = first.parent_sku is not None
        template = Template(
            name=demo_catalog.VARIABLE_PARENTS[parent_sku] if is_variable else first.name,
            code=parent_sku if is_variable else None,
            type="goods",
            salable=True,
            default_uom=unit,
            list_price=first.price,
            account_category=categories[first.tax_class],
            attribute_set=sizes if is_variable else None,
        )
        for index, variant in enumerate(variants):
            product = template.products[0] if index == 0 else template.products.new()
            product.suffix_code = variant.sku.removeprefix(parent_sku) if is_variable else variant.sku
            if is_variable:
                product.attributes = {SIZE[0]: variant.sku.rsplit("-", 1)[-1]}
        template.save()
        goods.extend(zip(template.products, (v.stock for v in variants)))
    return goods


def create_services(category) -> None:
    """Service products carrying the store's shipping and fee lines, at the standard rate, and rounding adjustments."""
    Template = Model.get("product.template")
    (unit,) = Model.get("product.uom").find([("name", "=", "Unit")])
    services = (
        (demo_catalog.SHIPPING_SKU, "Shipping"),
        (demo_catalog.FEE_SKU, "Fee"),
        (demo_catalog.ADJUSTMENT_SKU, "Rounding adjustment"),
    )
    for sku, name in services:
        template = Template(
            name=name, type="service", salable=True, default_uom=unit, list_price=Decimal(0), account_category=category
        )
        template.products[0].suffix_code = sku
        template.save()


def stock_goods(goods: list) -> None:
    Inventory = Model.get("stock.inventory")
    (storage,) = Model.get("stock.location").find([("code", "=", "STO")])
    inventory = Inventory(location=storage)
    for product, quantity in goods:
        inventory.lines.new(product=product, quantity=float(quantity))
    inventory.click("confirm")


def create_waste_locations(quarantine_code: str) -> None:
    """Returned units that are not resold: scrapped ones go to Lost and Found, held ones to Quarantine.

    Tryton only lets a customer return put units away outside storage into the warehouse's waste locations.
    """
    Location = Model.get("stock.location")
    (warehouse,) = Location.find([("type", "=", "warehouse")])
    quarantine = Location(name="Quarantine", code=quarantine_code, type="lost_found")
    quarantine.save()
    warehouse.waste_locations.extend([Location(warehouse.lost_found_location.id), Location(quarantine.id)])
    warehouse.save()


def create_user(company, name: str, login: str, password: str, group_names: tuple[str, ...]) -> None:
    User = Model.get("res.user")
    Group = Model.get("res.group")
    groups = Group.find([("name", "in", group_names)])
    if len(groups) != len(group_names):
        raise RuntimeError(f"Tryton groups missing: expected {group_names}")
    user = User(name=name, login=login, password=password)
    company = Model.get("company.company")(company.id)  # a record belongs to one user's list only
    user.groups.extend(groups)
    user.companies.append(company)
    user.company = company
    user.save()


def create_price_list(company, name: str) -> None:
    """Empty at first: the merchant adds a line (product, fixed price) for each product on sale."""
    Model.get("product.price_list")(name=name, company=company, price="list_price", tax_included=False).save()


def create_web_shop(company, currency, name: str) -> None:
    Shop = Model.get("web.shop")
    (warehouse,) = Model.get("stock.location").find([("type", "=", "warehouse")])
    shop = Shop(name=name, company=company, currency=currency)
    shop.warehouses.append(warehouse)
    shop.save()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.load(sys.stdin))
