"""The demo's stock story: goods received in the ERP show up in the store within seconds, with no call from us."""
import asyncio
import time
from decimal import Decimal

from adapters.tryton import TrytonErp
from config import Settings
from embedded.erp_catalogue import ErpCatalogue
from embedded.stack import STORE_ID, EmbeddedStack
from sandbox.woocommerce.shopper import Shopper

SKU = "BOOK-COFFEE"
RECEIVED = 24
TIMEOUT_S = 120


async def receipt_reaches_the_store(stack: EmbeddedStack, settings: Settings, shopper: Shopper) -> bool:
    print("\nStock (Tryton → Temporal → store):", flush=True)
    catalogue, erp = ErpCatalogue.connect(stack.tryton.catalogue_manager), TrytonErp(settings.erp)
    try:
        await catalogue.receive_stock({SKU: RECEIVED})
        received_at = time.monotonic()
        (stock,) = await erp.available_stock([SKU], settings.store(STORE_ID).stock.warehouses)
        print(f"  the ERP receives {RECEIVED} × {SKU}: {stock.quantity.normalize():f} available", flush=True)
        while time.monotonic() - received_at < TIMEOUT_S:
            shown = (await shopper.listing(SKU))["stock_quantity"]
            if shown == int(stock.quantity):
                print(f"  the store shows {shown} × {SKU} {time.monotonic() - received_at:.1f} s later", flush=True)
                return True
            await asyncio.sleep(0.2)
        print(f"  the store still shows {shown} × {SKU}", flush=True)
        return False
    finally:
        await catalogue.aclose()
        await erp.aclose()
