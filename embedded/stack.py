"""The embedded default stack: every process retail-sync needs, on 127.0.0.1, state under one data folder."""
import base64
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from embedded.processes import ChildProcess, venv_binary
from embedded.temporal import TemporalDevServer
from embedded.tryton import TrytonServer
from sandbox.shipbob.config import DEMO_CHANNEL_ID, DEMO_TOKEN
from sandbox.woocommerce.config import DEMO_KEY

STORE_ID = "demo"
WEBHOOK_SECRET = "demo-webhook-secret"
THREEPL_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"retail-sync demo 3PL webhooks!").decode()


@dataclass(frozen=True)
class Ports:
    temporal: int = 7233
    temporal_ui: int = 8233
    tryton: int = 8000
    store: int = 8090
    threepl: int = 8091
    starter: int = 8080


class EmbeddedStack:
    def __init__(self, data_dir: Path, ports: Ports = Ports()) -> None:
        self.data_dir = data_dir.resolve()
        self.ports = ports
        self.config_path = self.data_dir / "retail-sync.toml"
        self.temporal = TemporalDevServer(self.data_dir / "temporal", ports.temporal, ports.temporal_ui)
        self.tryton = TrytonServer(self.data_dir / "tryton", port=ports.tryton)
        env = {"RETAIL_SYNC_CONFIG": str(self.config_path)}
        cli = venv_binary("retail-sync")
        logs = self.data_dir / "logs"
        self.store = ChildProcess(
            "WooCommerce sandbox",
            [cli, "sandbox", "woocommerce", "--port", str(ports.store),
             "--state-file", str(self.data_dir / "store.pickle")],
            logs / "store.log",
        )  # fmt: skip
        self.threepl = ChildProcess(
            "ShipBob sandbox",
            [cli, "sandbox", "shipbob", "--port", str(ports.threepl), "--simulation-minute", "0.5",
             "--state-file", str(self.data_dir / "threepl.pickle")],
            logs / "threepl.log",
        )  # fmt: skip
        self.starter = ChildProcess("starter", [cli, "starter"], logs / "starter.log", env=env)
        self.worker = ChildProcess("worker", [cli, "worker"], logs / "worker.log", env=env)

    @property
    def store_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.store}"

    @property
    def threepl_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.threepl}"

    @property
    def starter_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.starter}"

    def start(self) -> None:
        self._refuse_busy_ports()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        _say(f"Temporal dev server on {self.temporal.address} (Web UI {self.temporal.ui_url})")
        self.temporal.start()
        _say("Tryton ERP (the first run bootstraps a database: about a minute)")
        self.tryton.start()
        _say(f"WooCommerce sandbox store '{STORE_ID}' on {self.store_url}")
        self.store.start()
        self.store.wait_until(lambda: _answers(f"{self.store_url}/wp-json/"), 30, "REST API")
        _say(f"ShipBob sandbox (3PL, two fulfilment centres) on {self.threepl_url}")
        self.threepl.start()
        self.threepl.wait_until(lambda: _answers(f"{self.threepl_url}/__sandbox/quirks"), 30, "API")
        _say(f"webhook starter on {self.starter_url}, and the worker")
        self.starter.start()
        self.worker.start()
        self.starter.wait_until(lambda: _answers(f"{self.starter_url}/readyz"), 60, "/readyz")

    def stop(self) -> None:
        for process in (self.worker, self.starter, self.threepl, self.store):
            process.stop()
        self.tryton.stop()
        self.temporal.stop()

    def _write_config(self) -> None:
        self.config_path.write_text(
            "# Written by `retail-sync demo` for its embedded stack.\n"
            f'[temporal]\naddress = "{self.temporal.address}"\n\n'
            f'[erp]\nurl = "{self.tryton.url}"\ndatabase = "{self.tryton.database}"\n\n'
            f"[starter]\nport = {self.ports.starter}\n\n"
            f'[threepl]\nurl = "{self.threepl_url}"\ntoken = "{DEMO_TOKEN.token}"\nchannel_id = "{DEMO_CHANNEL_ID}"\n'
            f'webhook_secret = "{THREEPL_WEBHOOK_SECRET}"\n\n'
            '[orders]\nroute_by_stock = true\nshipment_poll_interval = "PT15S"\n\n'
            '[returns]\npoll_interval = "PT15S"\n\n'
            f'[[stores]]\nid = "{STORE_ID}"\nurl = "{self.store_url}"\n'
            f'consumer_key = "{DEMO_KEY.consumer_key}"\nconsumer_secret = "{DEMO_KEY.consumer_secret}"\n'
            f'webhook_secret = "{WEBHOOK_SECRET}"\n'
        )

    def _refuse_busy_ports(self) -> None:
        for name, port in vars(self.ports).items():
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    raise SystemExit(f"port {port} ({name}) is already in use: is another demo still running?")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.TransportError:
        return False


def _say(message: str) -> None:
    print(f"  starting {message}", file=sys.stderr, flush=True)
