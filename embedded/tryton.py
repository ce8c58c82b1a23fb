"""A real Tryton ERP on SQLite, local to this machine, for the demo and the tests.

Initialising Tryton's modules costs about a minute of CPU, so it happens once: the result,
bootstrapped as the demo retailer (`embedded.tryton_bootstrap`), is cached as a template
database keyed by everything that shapes it. A server then starts from a copy in seconds.
"""
import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx

from adapters import tryton_module
from adapters.tryton import PAYMENT_METHOD, QUARANTINE_LOCATION
from config import ErpSettings
from embedded import countries, demo_catalog, tryton_bootstrap
from embedded.processes import ChildProcess, free_port

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent
TEMPLATE_DATABASE = "template"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "retail-sync" / "tryton"


def template_key() -> str:
    """Changes whenever the template would come out different: Tryton's versions, our bootstrap or our module."""
    digest = hashlib.sha256()
    versions = sorted(
        f"{dist.metadata['Name'].lower()}=={dist.version}"
        for dist in metadata.distributions()
        if dist.metadata["Name"].lower().replace("_", "-").startswith(("trytond", "proteus"))
    )
    digest.update("\n".join(versions).encode())
    for module in (tryton_bootstrap, countries, demo_catalog):
        digest.update(Path(module.__file__).read_bytes())
    for path in sorted(Path(tryton_module.__file__).parent.iterdir()):
        if path.is_file() and path.suffix in (".py", ".cfg", ".xml"):
            digest.update(path.name.encode() + path.read_bytes())
    digest.update(_bootstrap_input().encode())
    return digest.hexdigest()[:16]


def _bootstrap_input() -> str:
    """What the bootstrap reads on stdin: the default ErpSettings, so the demo connects out of the box."""
    settings = ErpSettings()
    return json.dumps(
        {
            "user": settings.user,
            "password": settings.password.get_secret_value(),
            "web_shop": settings.web_shop,
            "payment_method": PAYMENT_METHOD,
            "quarantine_location": QUARANTINE_LOCATION,
        }
    )


def ensure_template() -> Path:
    """The bootstrapped template database, built on first use (about a minute) and cached.

    A file lock makes concurrent callers wait for one build; the template appears atomically.
    """
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    template = directory / f"template-{template_key()}.sqlite"
    if template.exists():
        return template
    with _locked(directory / "build.lock"):
        if not template.exists():
            _build_template(template)
    return template


def bootstrap(data_dir: Path, database: str = ErpSettings().database) -> Path:
    """Give `data_dir` its own database copied from the template, once; later calls keep its data.

    A database made from an older template (different modules or bootstrap) is set aside and
    replaced: the code expects what the current bootstrap creates, and demo data is disposable.
    """
    path = Path(data_dir) / "db" / f"{database}.sqlite"
    made_from = path.with_suffix(".template")
    template = ensure_template()
    if path.exists() and (not made_from.exists() or made_from.read_text() != template.name):
        outdated = path.with_suffix(f".sqlite.outdated-{int(time.time())}")
        log.warning("ERP database %s was made by an older bootstrap; moved to %s", path, outdated.name)
        os.replace(path, outdated)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        shutil.copyfile(template, partial)
        with contextlib.closing(sqlite3.connect(partial)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")  # readers (stock polls) never block a long write
        os.replace(partial, path)
        made_from.write_text(template.name)
    return path


class TrytonServer:
    """One `trytond` process serving `database` from `data_dir` on 127.0.0.1.

    The database is created from the template only if `data_dir` has none yet, so a demo keeps
    its orders across restarts while a test session gets a throwaway copy in a temp dir.
    """

    def __init__(
        self, data_dir: Path, *, database: str = ErpSettings().database, port: int = 0, startup_timeout: float = 60.0
    ) -> None:
        self.data_dir = Path(data_dir)
        self.database = database
        self.port = port
        self.startup_timeout = startup_timeout
        self.log_path = self.data_dir / "trytond.log"
        self._process: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> ErpSettings:
        """Connection settings for the integration user the bootstrap created."""
        return ErpSettings(url=self.url, database=self.database)

    @property
    def catalogue_manager(self) -> ErpSettings:
        """The demo database's catalogue manager, who may add products to the ERP."""
        login, password = tryton_bootstrap.CATALOGUE_MANAGER
        return ErpSettings(url=self.url, database=self.database, user=login, password=password)

    def start(self) -> None:
        database_path = bootstrap(self.data_dir, self.database)
        self.port = self.port or free_port()
        config = _write_config(self.data_dir / "trytond.conf", database_path.parent, self.port)
        # `-d` preloads the database before serving (a lazily loaded one fails its first logins).
        self._process = ChildProcess("trytond", [str(BIN_DIR / "trytond"), "-c", str(config), "-d", self.database],
                                     self.log_path)  # fmt: skip
        self._process.start()
        try:
            self._process.wait_until(self._answers, self.startup_timeout, "JSON-RPC")
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            self._process.stop(timeout)
            self._process = None

    async def __aenter__(self) -> "TrytonServer":
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)

    def _answers(self) -> bool:
        request = {"id": 0, "method": "common.server.version", "params": []}
        with contextlib.suppress(httpx.TransportError):
            return httpx.post(f"{self.url}/rpc/", json=request, timeout=1.0).status_code == 200
        return False


def _build_template(template: Path) -> None:
    """`trytond-admin` initialises the modules, then the bootstrap fills in the retailer.

    The admin password is random and never stored: the integration user is the way in.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="build-", dir=template.parent) as work:
        work = Path(work)
        database = work / "db" / f"{TEMPLATE_DATABASE}.sqlite"
        database.parent.mkdir()
        database.touch()
        config = _write_config(work / "trytond.conf", database.parent, port=0)
        password_file = work / "admin-password"
        password_file.touch(mode=0o600)
        password_file.write_text(secrets.token_urlsafe(24))
        log = template.parent / "last-build.log"
        log.unlink(missing_ok=True)
        _progress(f"building the Tryton template in {template.parent} (about a minute)", started)
        _run(
            [BIN_DIR / "trytond-admin", "-c", config, "-d", TEMPLATE_DATABASE, "--all", "--activate-dependencies"]
            + ["--email", "admin@localhost", "-u", *tryton_bootstrap.MODULES],
            log,
            env={"TRYTONPASSFILE": str(password_file)},
        )
        _progress("modules initialised; bootstrapping the demo company", started)
        _run(
            [sys.executable, "-m", "embedded.tryton_bootstrap", config, TEMPLATE_DATABASE],
            log,
            stdin=_bootstrap_input(),
        )
        partial = template.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(database)) as connection:
            connection.execute("VACUUM INTO ?", (str(partial),))
        os.replace(partial, template)
    _progress(f"template ready: {template}", started)


def _run(command: list, log: Path, *, env: dict | None = None, stdin: str | None = None) -> None:
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    with log.open("a") as output:
        result = subprocess.run(
            [str(part) for part in command],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            text=True,
        )
    if result.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed with {result.returncode}; see {log}")


def _write_config(path: Path, database_dir: Path, port: int) -> Path:
    path.write_text(
        f"[database]\nuri = sqlite://\npath = {database_dir}\nlist = False\n\n"
        f"[web]\nlisten = 127.0.0.1:{port}\n\n"
        "[queue]\nworker = False\n"
    )
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _progress(message: str, started: float) -> None:
    print(f"[tryton {time.monotonic() - started:5.1f}s] {message}", file=sys.stderr, flush=True)
