"""One real Tryton per test session, started from the cached template in a temp dir.

The first run on a machine builds the template (about a minute); later sessions start in seconds.
"""
import pytest

from adapters.tryton import TrytonErp
from adapters.tryton_rpc import TrytonRpc
from embedded.tryton import TrytonServer


@pytest.fixture(scope="session")
def tryton_server(tmp_path_factory):
    """`.url`, `.database` and `.settings` (ErpSettings for the integration user)."""
    server = TrytonServer(tmp_path_factory.mktemp("tryton"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def tryton_erp(tryton_server):
    erp = TrytonErp(tryton_server.settings)
    yield erp
    await erp.aclose()


@pytest.fixture(scope="session")
async def tryton(tryton_server):
    """A raw RPC session to read what the adapter did."""
    settings = tryton_server.settings
    rpc = TrytonRpc(settings.url, settings.database, settings.user, settings.password)
    yield rpc
    await rpc.aclose()
