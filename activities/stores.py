"""The worker's WooCommerce clients, one per configured store, looked up by store id.

Workflows only ever carry a store id, so credentials never enter workflow history.
"""
from adapters.errors import NonRetryableError
from adapters.woocommerce import WooCommerceClient
from config import StoreSettings


class StoreDirectory:
    def __init__(self, stores: list[StoreSettings]) -> None:
        self._settings = {store.id: store for store in stores}
        self._clients = {store.id: WooCommerceClient(store) for store in stores}

    def client(self, store_id: str) -> WooCommerceClient:
        self.settings(store_id)
        return self._clients[store_id]

    def settings(self, store_id: str) -> StoreSettings:
        try:
            return self._settings[store_id]
        except KeyError:
            raise NonRetryableError("retail-sync", f"store {store_id!r} is not configured on this worker") from None

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
