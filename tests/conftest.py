"""Session-wide real services: one Temporal dev server, one Tryton, one WooCommerce sandbox."""
import gc

pytest_plugins = [
    "tests.plugins.temporal",
    "tests.plugins.tryton",
    "tests.plugins.woocommerce",
    "tests.plugins.shipbob",
    "tests.plugins.stack",
    "tests.plugins.inventory",
    "tests.plugins.real_woocommerce",
]


def pytest_unconfigure(config):
    gc.collect()  # drop Temporal bridge objects while the interpreter is alive (sdk-python#300)
