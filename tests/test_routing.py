"""Which centre ships which line: the pure routing rules."""
from decimal import Decimal

from activities.routing import route_by_sku, route_by_stock
from canonical.fulfilment import CenterStock, FulfilmentLine


def line(sku: str, quantity: int) -> FulfilmentLine:
    return FulfilmentLine(sku=sku, quantity=Decimal(quantity))


def stock(centre: str, sku: str, units: int) -> CenterStock:
    return CenterStock(center_id=centre, sku=sku, fulfillable=Decimal(units))


def test_fixed_map_sends_mapped_skus_to_their_centre_and_leaves_the_rest_to_the_3pl():
    routed = route_by_sku([line("MUG", 1), line("BOOK", 2), line("TEE", 1)], {"MUG": "1", "BOOK": "2"})
    assert routed == {"1": [line("MUG", 1)], "2": [line("BOOK", 2)], None: [line("TEE", 1)]}


def test_one_centre_that_has_everything_ships_everything():
    levels = [stock("1", "MUG", 5), stock("1", "TEE", 5), stock("2", "MUG", 9), stock("2", "TEE", 1)]
    assert route_by_stock([line("MUG", 2), line("TEE", 2)], levels) == {"1": [line("MUG", 2), line("TEE", 2)]}


def test_lines_split_to_the_centres_that_hold_them():
    levels = [stock("1", "MUG", 5), stock("2", "BOOK", 3)]
    assert route_by_stock([line("MUG", 2), line("BOOK", 1)], levels) == {"1": [line("MUG", 2)], "2": [line("BOOK", 1)]}


def test_a_line_no_centre_can_ship_whole_is_left_to_the_3pl():
    levels = [stock("1", "MUG", 1), stock("2", "MUG", 1), stock("2", "TEE", 4)]
    assert route_by_stock([line("MUG", 2), line("TEE", 1)], levels) == {None: [line("MUG", 2)], "2": [line("TEE", 1)]}


def test_stock_taken_by_one_line_is_not_promised_to_the_next():
    levels = [stock("1", "MUG", 3), stock("2", "MUG", 2)]
    routed = route_by_stock([line("MUG", 2), line("MUG", 2)], levels)
    assert routed == {"1": [line("MUG", 2)], "2": [line("MUG", 2)]}
