"""One simulation world for the package's tests: scenarios play in it one after the other."""
import pytest

from tests.simulation.scenarios import SKUS
from tests.simulation.world import simulation_world


@pytest.fixture(scope="package")
async def world():
    async with simulation_world() as world:
        for sku in SKUS:
            await world.shopper.set_stock(sku, 10**6)
        yield world
