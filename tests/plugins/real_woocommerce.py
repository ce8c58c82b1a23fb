"""The real WooCommerce stores of the session: 10.0.2 with HPOS and 7.9.0 on posts storage, on loopback.

Built once into the user's cache (about 10 s each, after Debian's packages: about 40 s once), started in
about 2 s after that. Stores this session started are stopped at its end; a store a person left running
(`retail-sync sandbox real-woocommerce`) stays running. The webhooks earlier sessions left behind point at
starters long gone, so they are deleted first.
"""
import httpx
import pytest

from adapters.oauth1 import OAuth1QueryAuth
from sandbox.real_woocommerce import RELEASES, RealStore, archives_available, running, start, stop
from sandbox.real_woocommerce.catalogue import seed_demo_catalogue


@pytest.fixture(scope="session")
async def real_stores() -> dict[str, RealStore]:
    if not archives_available():
        pytest.skip("no WordPress/WooCommerce release archives: set RETAIL_SYNC_VENDOR (see sandbox/real_woocommerce)")
    started = [release for release in RELEASES.values() if not running(release)]
    stores = {name: start(release) for name, release in RELEASES.items()}
    for store in stores.values():
        await seed_demo_catalogue(store)
        await _delete_webhooks(store)
    yield stores
    for release in started:
        stop(release)


@pytest.fixture(scope="session", params=list(RELEASES))
def real_store(request, real_stores) -> RealStore:
    return real_stores[request.param]


def rest(store: RealStore) -> httpx.AsyncClient:
    """The merchant's own REST access to the store, signed as WooCommerce wants it over http."""
    auth = OAuth1QueryAuth(store.url, store.consumer_key, store.consumer_secret)
    return httpx.AsyncClient(base_url=f"{store.url}/wp-json/wc/v3/", auth=auth, timeout=60)


async def _delete_webhooks(store: RealStore) -> None:
    async with rest(store) as http:
        for hook in (await http.get("webhooks", params={"per_page": 100})).raise_for_status().json():
            (await http.delete(f"webhooks/{hook['id']}", params={"force": "true"})).raise_for_status()
