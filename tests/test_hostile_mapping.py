"""Every mapper, on any JSON value anywhere in its input, returns a model Temporal can carry or raises its own
"invalid payload" error naming the field: never another exception (a 500, or an activity retried for a day)."""
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from adapters.shipbob_mapping import (
    InvalidShipBobPayload,
    cancel_result,
    order_from_shipbob,
    return_from_shipbob,
    return_inventory_ids,
    shipment_from_webhook,
)
from adapters.woocommerce_orders import InvalidOrderPayload, order_from_woocommerce, refund_from_woocommerce
from bench.hostile_bodies import HOSTILE_VALUES, RETURN_REQUEST, WOOCOMMERCE_ORDER, json_paths, with_value
from starter.returns_endpoint import ReturnAsked
from tests.test_woocommerce_mapping import REFUND

DATA = Path(__file__).parent / "data"
SKUS = {"8200007": "TSHIRT-BLU-M", "8200011": "MUG-01"}
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(system: str, name: str) -> dict:
    return json.loads((DATA / system / f"{name}.json").read_text(encoding="utf-8"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.sampled_from(HOSTILE_VALUES),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def hostile_variants(payload: dict):
    """The payload with one value (or the whole of it) replaced by any JSON value, hostile ones favoured."""
    return st.tuples(st.sampled_from(json_paths(payload)), json_values).map(lambda pv: with_value(payload, *pv))


def carried_by_temporal(result: object) -> None:
    """What a run gets must encode as a payload (lone surrogates, for one, do not)."""
    pydantic_data_converter.payload_converter.to_payloads([result])


MAPPERS = {
    "woocommerce order": (lambda p: order_from_woocommerce("shop1", p), InvalidOrderPayload,
                          [load("woocommerce", n) for n in ("order_variation_coupon", "order_fees_two_rates",
                                                            "order_guest_non_ascii")] + [WOOCOMMERCE_ORDER]),
    "woocommerce refund": (lambda p: refund_from_woocommerce("shop1", "727", "EUR", p, "_retail_sync_refund_key"),
                           InvalidOrderPayload, [REFUND]),
    "shipbob shipment webhook": (shipment_from_webhook, InvalidShipBobPayload,
                                 [load("shipbob", n) for n in ("shipment_shipped", "shipment_exception_out_of_stock")]),
    "shipbob order": (order_from_shipbob, InvalidShipBobPayload, [load("shipbob", "order_split")]),
    "shipbob cancel": (cancel_result, InvalidShipBobPayload, [load("shipbob", "cancel_partial")]),
    "shipbob return": (lambda p: return_from_shipbob(p, SKUS), InvalidShipBobPayload,
                       [load("shipbob", "return_completed_partial")]),
    "shipbob return inventory": (return_inventory_ids, InvalidShipBobPayload,
                                 [load("shipbob", "return_completed_partial")]),
    "returns portal request": (ReturnAsked.model_validate, ValidationError, [RETURN_REQUEST]),
}  # fmt: skip


@pytest.mark.parametrize("name", MAPPERS)
@PROPERTY
@given(data=st.data())
def test_a_hostile_value_anywhere_maps_or_is_refused_with_the_mappers_own_error(name, data):
    mapper, refusal, fixtures = MAPPERS[name]
    payload = data.draw(st.sampled_from(fixtures).flatmap(hostile_variants))
    try:
        result = mapper(payload)
    except refusal as err:
        assert str(err)
        return
    carried_by_temporal(result)


@pytest.mark.parametrize("name", MAPPERS)
@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda v: repr(v)[:24])
def test_every_catalogued_hostile_value_in_every_field_maps_or_is_refused(name, value):
    """The catalogue, exhaustively: each hostile value in each field of each fixture."""
    mapper, refusal, fixtures = MAPPERS[name]
    for fixture in fixtures:
        for path in json_paths(fixture):
            try:
                result = mapper(with_value(fixture, path, value))
            except refusal:
                continue
            carried_by_temporal(result)
