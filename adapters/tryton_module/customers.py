"""The store's customer as a party: found by its code, with an e-mail and both addresses, made once."""
from trytond.exceptions import UserError
from trytond.pool import Pool

from .common import Steps, step

ADDRESS_FIELDS = ("street", "postal_code", "city", "country")


class Customers(Steps):
    "retail-sync customers"
    __name__ = "retail_sync.customer"
    steps = ("ensure",)

    @classmethod
    @step
    def ensure(cls, code: str, name: str, email: str, billing: dict, shipping: dict) -> dict:
        """The party `code` with `email` and the two addresses ({party_name, street, postal_code, city,
        country code}); what exists already is kept, so a repeated call changes nothing."""
        pool = Pool()
        Party = pool.get("party.party")
        Contact = pool.get("party.contact_mechanism")
        countries = _countries(billing, shipping)
        parties = Party.search([("code", "=", code)], limit=1)
        if parties:
            party = parties[0]
            Party.lock(parties)
        else:
            Party.lock()  # a party another step is creating: the step restarts once it exists
            (party,) = Party.create([{"code": code, "name": name, "addresses": []}])
        if email and not Contact.search(
            [("party", "=", party.id), ("type", "=", "email"), ("value", "=", email)], limit=1
        ):
            Contact.create([{"party": party.id, "type": "email", "value": email}])
        billing_id = _address(party, billing, countries)
        shipping_id = _address(party, shipping, countries)
        return {"party": party.id, "invoice_address": billing_id, "shipment_address": shipping_id}


def _countries(*addresses: dict) -> dict[str, int]:
    Country = Pool().get("country.country")
    codes = {a["country"].upper() for a in addresses if a.get("country")}
    found = {c.code: c.id for c in Country.search([("code", "in", sorted(codes))])}
    if unknown := codes - found.keys():
        raise UserError(f"Unknown country {', '.join(sorted(unknown))}: add it to the ERP, then retry")
    return found


def _address(party, wanted: dict, countries: dict[str, int]) -> int:
    """An address of the party with the same street, postal code, city and country, else a new one."""
    Address = Pool().get("party.address")
    values = {
        "party": party.id,
        "party_name": wanted.get("party_name") or None,
        "street": wanted.get("street") or None,
        "postal_code": wanted.get("postal_code") or None,
        "city": wanted.get("city") or None,
        "country": countries.get((wanted.get("country") or "").upper()),
    }
    for address in Address.search([("party", "=", party.id)]):
        stored = {
            "street": address.street,
            "postal_code": address.postal_code,
            "city": address.city,
            "country": address.country.id if address.country else None,
        }
        if all(_same(stored[field], values[field]) for field in ADDRESS_FIELDS):
            return address.id
    (address,) = Address.create([values])
    return address.id


def _same(stored, wanted) -> bool:
    if isinstance(wanted, str) or isinstance(stored, str):
        return " ".join((stored or "").split()).casefold() == " ".join((wanted or "").split()).casefold()
    return stored == wanted
