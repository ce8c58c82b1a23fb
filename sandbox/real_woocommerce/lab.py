"""A real WordPress + WooCommerce store on loopback, for the tests and for people: no Docker, no wp-cli.

It follows shared/notes/real-woocommerce.md: Debian's PHP, MariaDB and nginx run as private instances with
their own configuration, sockets and PID files under one lab directory per store. The lab is kept between
runs (the data too), so a second start only starts the three processes; stopping kills them by PID file.
Every step checks before it acts, so starting a running or half-built lab finishes it and changes nothing else.
"""
import getpass
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

PACKAGES = ["php8.2-fpm", "php8.2-cli", "php8.2-mysql", "php8.2-curl", "php8.2-xml", "php8.2-mbstring",
            "php8.2-intl", "php8.2-gd", "php8.2-zip", "php8.2-bcmath", "mariadb-server", "nginx-light", "openssl"]  # fmt: skip
DEBIAN_WORDPRESS = Path("/usr/share/wordpress")  # Debian's own package, 6.1.9: what WooCommerce 7.9 ran on
MU_PLUGIN = Path(__file__).with_name("retail-sync-lab.php")
ADMIN = {"user_name": "admin", "admin_password": "retail-sync-lab", "admin_email": "admin@example.com"}
STORE_OPTIONS = {  # a euro shop in Germany with taxes on, prices without tax: the sandbox's shop
    "timezone_string": "UTC", "gmt_offset": "", "woocommerce_currency": "EUR", "woocommerce_default_country": "DE",
    "woocommerce_calc_taxes": "yes", "woocommerce_prices_include_tax": "no", "woocommerce_coming_soon": "no",
    "permalink_structure": "/%postname%/",
}  # fmt: skip


@dataclass(frozen=True)
class StoreRelease:
    name: str
    woocommerce: str
    wordpress: str | None  # a vendor archive's version; None: Debian's package
    hpos: bool
    generation: int  # the sandbox's `generation` that answers like it


RELEASES = {
    "woocommerce_10": StoreRelease("woocommerce_10", "10.0.2", "6.8.8", hpos=True, generation=10),
    "woocommerce_7": StoreRelease("woocommerce_7", "7.9.0", None, hpos=False, generation=7),
}


@dataclass(frozen=True)
class RealStore:
    name: str
    url: str
    consumer_key: str
    consumer_secret: str
    woocommerce: str
    hpos: bool
    lab: str


class LabError(RuntimeError):
    """The lab cannot bring the store up; the message says what is missing and where its log is."""


def lab_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "retail-sync" / "real-woocommerce"


def vendor_dir() -> Path:
    """`RETAIL_SYNC_VENDOR`, or the workplace's `shared/vendor` beside (or above) this checkout."""
    if configured := os.environ.get("RETAIL_SYNC_VENDOR"):
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "vendor" / "SHA256SUMS").is_file():
            return parent / "shared" / "vendor"
    raise LabError("no vendor archives: set RETAIL_SYNC_VENDOR to the directory holding "
                   "wordpress-6.8.8.tar.gz, woocommerce-10.0.2.tar.gz and woocommerce-7.9.0.tar.gz")  # fmt: skip


def archives_available() -> bool:
    try:
        vendor_dir()
    except LabError:
        return False
    return True


def ensure_packages() -> None:
    """Install Debian's PHP, MariaDB and nginx (and its WordPress) unless they are there: about 40 s once."""
    wanted = PACKAGES + ["wordpress"]
    missing = [p for p in wanted if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                                   text=True).stdout != "install ok installed"]  # fmt: skip
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise LabError(f"could not install {' '.join(missing)}: {done.stderr.strip()[-500:]}")


def start(release: StoreRelease, root: Path | None = None) -> RealStore:
    lab = Lab(release, (root or lab_root()) / release.name)
    return lab.start()


def stop(release: StoreRelease, root: Path | None = None) -> None:
    Lab(release, (root or lab_root()) / release.name).stop()


def running(release: StoreRelease, root: Path | None = None) -> bool:
    return Lab(release, (root or lab_root()) / release.name).running()


def sql(store: RealStore, statement: str) -> str:
    """What the store's own database holds (tab-separated rows): where WooCommerce really put an order."""
    return Lab(RELEASES[store.name], Path(store.lab)).sql(statement)


class Lab:
    def __init__(self, release: StoreRelease, directory: Path) -> None:
        self.release, self.dir = release, directory
        self.docroot, self.run, self.log = directory / "docroot", directory / "run", directory / "log"
        self.state_file = directory / "state.json"

    def start(self) -> RealStore:
        ensure_packages()
        for path in (self.run, self.log, self.dir / "tmp", self.dir / "conf"):
            path.mkdir(parents=True, exist_ok=True)
        state = self._state()
        if not self.running():
            self.stop()
            state["port"] = _free_port()
            self._extract()
            self._write_configs(state)
            self._start_mariadb()
            self._start("php-fpm.pid", ["php-fpm8.2", "-y", str(self.dir / "conf" / "php-fpm.conf")]
                        + (["-R"] if os.geteuid() == 0 else []))  # fmt: skip
            self._start("nginx.pid", ["nginx", "-c", str(self.dir / "conf" / "nginx.conf"), "-p", f"{self.dir}/"])
            self._save(state)
        store = RealStore(self.release.name, f"http://127.0.0.1:{state['port']}", state["consumer_key"],
                          state["consumer_secret"], self.release.woocommerce, self.release.hpos, str(self.dir))  # fmt: skip
        self._wait_http(f"{store.url}/wp-login.php")
        if self._option("retail_sync_lab_ready") != self.release.woocommerce:
            self._install(store)
        self._wait_http(f"{store.url}/wp-json/wc/v3")
        return store

    def running(self) -> bool:
        return all(self._alive(pid_file) for pid_file in ("mariadb.pid", "php-fpm.pid", "nginx.pid"))

    def stop(self) -> None:
        for pid_file in ("nginx.pid", "php-fpm.pid", "mariadb.pid"):
            pid = self._pid(pid_file)
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 30
            while _running(pid) and time.monotonic() < deadline:
                time.sleep(0.1)

    # --- files ---------------------------------------------------------------------------------------------

    def _state(self) -> dict:
        if self.state_file.is_file():
            return json.loads(self.state_file.read_text())
        return {"consumer_key": "ck_" + secrets.token_hex(20), "consumer_secret": "cs_" + secrets.token_hex(20),
                "salt": secrets.token_hex(32)}  # fmt: skip

    def _save(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state, indent=2))

    def _extract(self) -> None:
        marker = self.docroot / f".extracted-{self.release.woocommerce}"
        if marker.is_file():
            return
        shutil.rmtree(self.docroot, ignore_errors=True)
        vendor = vendor_dir()
        if self.release.wordpress:
            _untar(vendor / f"wordpress-{self.release.wordpress}.tar.gz", self.docroot)
        else:
            shutil.copytree(DEBIAN_WORDPRESS, self.docroot, symlinks=True)
            (self.docroot / "wp-config.php").unlink()  # Debian's looks for /etc/wordpress/config-<host>.php
        plugin = self.docroot / "wp-content" / "plugins" / "woocommerce"
        _untar(vendor / f"woocommerce-{self.release.woocommerce}.tar.gz", plugin)
        misnamed = plugin / "src" / "Caching" / "WpCacheEngine.php"  # committed on a case-insensitive disk
        if misnamed.exists():
            misnamed.rename(misnamed.with_name("WPCacheEngine.php"))
        marker.touch()

    def _write_configs(self, state: dict) -> None:
        conf, run, log, tmp = self.dir / "conf", self.run, self.log, self.dir / "tmp"
        as_root = os.geteuid() == 0
        (conf / "my.cnf").write_text(f"""[mysqld]
datadir={self.dir / 'mysql'}
socket={run / 'mysql.sock'}
pid-file={run / 'mariadb.pid'}
log-error={log / 'mariadb.log'}
skip-networking
skip-name-resolve
innodb_buffer_pool_size=64M
{'user=root' if as_root else ''}
[client]
socket={run / 'mysql.sock'}
""")
        (conf / "php-fpm.conf").write_text(f"""[global]
pid = {run / 'php-fpm.pid'}
error_log = {log / 'php-fpm.log'}
daemonize = yes
[lab]
{'user = root' if as_root else ''}
listen = {run / 'php-fpm.sock'}
listen.mode = 0666
pm = static
pm.max_children = 6
catch_workers_output = yes
php_admin_value[error_log] = {log / 'php-errors.log'}
php_admin_value[memory_limit] = 512M
php_admin_value[max_execution_time] = 300
""")
        params = Path("/etc/nginx/fastcgi_params").read_text()  # its HTTP_HOST drops the port: OAuth then fails
        (conf / "fastcgi_params").write_text(params.replace("HTTP_HOST        $host;", "HTTP_HOST        $http_host;"))
        temp_paths = "\n".join(f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                                 "uwsgi", "scgi"))  # fmt: skip
        (conf / "nginx.conf").write_text(f"""{'user root;' if as_root else ''}
worker_processes 2;
pid {run / 'nginx.pid'};
error_log {log / 'nginx-error.log'};
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {log / 'nginx-access.log'};
{temp_paths}
    client_max_body_size 64m;
    server {{
        listen 127.0.0.1:{state['port']};
        root {self.docroot};
        index index.php;
        location / {{ try_files $uri $uri/ /index.php?$args; }}
        location ~ \\.php$ {{
            include {conf / 'fastcgi_params'};
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_pass unix:{run / 'php-fpm.sock'};
            fastcgi_read_timeout 300;
        }}
    }}
}}
""")
        salts = "\n".join(f"define('{name}', '{hashlib.sha256((state['salt'] + name).encode()).hexdigest()}');"
                          for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
                                       "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))  # fmt: skip
        home = f"http://127.0.0.1:{state['port']}"
        (self.docroot / "wp-config.php").write_text(f"""<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'wp');
define('DB_PASSWORD', 'wp');
define('DB_HOST', 'localhost:{run / 'mysql.sock'}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{salts}
$table_prefix = 'wp_';
define('WP_HOME', '{home}');
define('WP_SITEURL', '{home}');
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', '{log / 'wordpress.log'}');
define('WP_DEBUG_DISPLAY', false);
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
""")
        mu_plugins = self.docroot / "wp-content" / "mu-plugins"
        mu_plugins.mkdir(exist_ok=True)
        shutil.copyfile(MU_PLUGIN, mu_plugins / MU_PLUGIN.name)

    # --- processes -----------------------------------------------------------------------------------------

    def _start_mariadb(self) -> None:
        cnf = str(self.dir / "conf" / "my.cnf")
        if not (self.dir / "mysql" / "mysql").is_dir():
            self._check(["mariadb-install-db", f"--defaults-file={cnf}", f"--datadir={self.dir / 'mysql'}",
                         f"--auth-root-socket-user={getpass.getuser()}"], "mariadb-install-db")  # fmt: skip
        self._start("mariadb.pid", ["mariadbd", f"--defaults-file={cnf}"], background=True)
        deadline = time.monotonic() + 60
        while subprocess.run(self._sql_command("select 1"), capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise LabError(f"MariaDB did not answer within 60 s: see {self.log / 'mariadb.log'}")
            time.sleep(0.2)
        self.sql("CREATE DATABASE IF NOT EXISTS wordpress CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
                  "CREATE USER IF NOT EXISTS 'wp'@'localhost' IDENTIFIED BY 'wp';"
                  "GRANT ALL ON wordpress.* TO 'wp'@'localhost';", database="")  # fmt: skip

    def _start(self, pid_file: str, command: list[str], background: bool = False) -> None:
        (self.run / pid_file).unlink(missing_ok=True)
        with open(self.log / f"{pid_file.removesuffix('.pid')}.out", "ab") as out:
            process = subprocess.Popen(command, stdout=out, stderr=out, start_new_session=True)
        if not background and process.wait(30) != 0:
            raise LabError(f"{command[0]} did not start: see {self.log}")
        deadline = time.monotonic() + 30
        while self._pid(pid_file) is None:
            if time.monotonic() > deadline or (background and process.poll() is not None):
                raise LabError(f"{command[0]} did not start: see {self.log}")
            time.sleep(0.1)

    def _pid(self, pid_file: str) -> int | None:
        try:
            return int((self.run / pid_file).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _alive(self, pid_file: str) -> bool:
        pid = self._pid(pid_file)
        return pid is not None and _running(pid)

    def _check(self, command: list[str], what: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise LabError(f"{what} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    # --- WordPress and WooCommerce -------------------------------------------------------------------------

    def _install(self, store: RealStore) -> None:
        """Install WordPress with one form post, activate WooCommerce by SQL and page loads, add the key."""
        with httpx.Client(base_url=store.url, timeout=120) as http:
            if not self.sql("SHOW TABLES LIKE 'wp_options'"):
                form = {"weblog_title": f"retail-sync lab {self.release.name}", "admin_password2": ADMIN["admin_password"],
                        "pw_weak": "1", "blog_public": "0", **ADMIN}  # fmt: skip
                http.post("/wp-admin/install.php?step=2", data=form)
                if not self.sql("SHOW TABLES LIKE 'wp_options'"):
                    raise LabError(f"WordPress did not install: see {self.log}")
            theme = "twentytwentyfive" if (self.docroot / "wp-content/themes/twentytwentyfive").is_dir() else ""
            self._set_options({"active_plugins": 'a:1:{i:0;s:27:"woocommerce/woocommerce.php";}',
                               "template": theme, "stylesheet": theme,
                               "retail_sync_lab_hpos": "yes" if self.release.hpos else "no"})  # fmt: skip
            self.sql("DELETE FROM wp_options WHERE option_name = 'rewrite_rules'")
            deadline = time.monotonic() + 120
            while self._option("woocommerce_version") != self.release.woocommerce:  # it installs itself on init
                if time.monotonic() > deadline:
                    raise LabError(f"WooCommerce {self.release.woocommerce} did not install: see {self.log}")
                http.get("/")
                time.sleep(1)
            http.get("/wp-json/")
            http.get("/wp-admin/admin-ajax.php", params={"action": "retail_sync_lab"})  # admin_init, without a login
            self._set_options(STORE_OPTIONS)
            self.sql("DELETE FROM wp_options WHERE option_name = 'rewrite_rules'")
            http.get("/")  # with the options above: rewrite rules for /wp-json/, and HPOS switched on if asked
            if self.release.hpos and self._option("woocommerce_custom_orders_table_enabled") != "yes":
                raise LabError(f"HPOS did not switch on: see {self.log}")
            self._add_api_key(store)
            self._set_options({"retail_sync_lab_ready": self.release.woocommerce})

    def _add_api_key(self, store: RealStore) -> None:
        hashed = hmac.new(b"wc-api", store.consumer_key.encode(), hashlib.sha256).hexdigest()
        if self.sql(f"SELECT key_id FROM wp_woocommerce_api_keys WHERE consumer_key = '{hashed}'"):
            return
        self.sql("INSERT INTO wp_woocommerce_api_keys (user_id, description, permissions, consumer_key, "
                  f"consumer_secret, truncated_key) VALUES (1, 'retail-sync', 'read_write', '{hashed}', "
                  f"'{store.consumer_secret}', '{store.consumer_key[-7:]}')")  # fmt: skip

    def _set_options(self, options: dict[str, str]) -> None:
        rows = ", ".join(f"({_quote(name)}, {_quote(value)}, 'yes')" for name, value in options.items())
        self.sql("INSERT INTO wp_options (option_name, option_value, autoload) VALUES "
                  f"{rows} ON DUPLICATE KEY UPDATE option_value = VALUES(option_value)")  # fmt: skip

    def _option(self, name: str) -> str | None:
        if not self.sql("SHOW TABLES LIKE 'wp_options'"):
            return None
        return self.sql(f"SELECT option_value FROM wp_options WHERE option_name = {_quote(name)}") or None

    def sql(self, statement: str, database: str = "wordpress") -> str:
        done = subprocess.run(self._sql_command(statement, database), capture_output=True, text=True)
        if done.returncode != 0:
            raise LabError(f"SQL failed ({statement[:80]}…): {done.stderr.strip()}")
        return done.stdout.strip()

    def _sql_command(self, statement: str, database: str = "") -> list[str]:
        return ["mariadb", f"--defaults-file={self.dir / 'conf' / 'my.cnf'}", "-u", "root", "-N", "-B",
                *([database] if database else []), "-e", statement]  # fmt: skip

    def _wait_http(self, url: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url, timeout=10).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise LabError(f"{url} did not answer within 60 s: see {self.log}")
            time.sleep(0.2)


def _untar(archive: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="tar")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
