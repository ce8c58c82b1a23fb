"""The shipped TLS proxy (deploy/nginx/retail-sync.conf) on real nginx, in front of a real starter.

A real store delivers webhooks only to ports 80, 443 and 8080 of a public host, so production receives them
on 443 through this proxy. The test runs the very file the compose service mounts, with only its listen
ports (loopback ones instead of 443 and 80), its certificate directory (a self-signed certificate made with
`openssl`) and its upstream (the test's starter) changed. nginx is Debian's, the package the real-store lab
installs: where it is missing, the lab's `ensure_packages` installs it.
"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.datastructures import Headers
from temporalio.client import WorkflowExecutionStatus

from canonical.keys import order_workflow_id
from config import Settings, StarterSettings, StoreSettings, TemporalSettings
from embedded.asgi import serve
from starter.webhooks import create_app
from tests.test_webhook_starter import SECRET, order_body, run_exists, signed  # SECRET: as the store has it

PROXY_CONF = Path(__file__).parents[1] / "deploy" / "nginx" / "retail-sync.conf"
LIMIT = StarterSettings().max_body_bytes  # the shipped default: the proxy's limit must be the same


def nginx_binary() -> str:
    """Debian's nginx (and `openssl`); where either is missing, the lab installs them with its other packages."""
    if not (_nginx() and shutil.which("openssl")):
        from sandbox.real_woocommerce.lab import LabError, ensure_packages

        try:
            ensure_packages()
        except LabError as err:
            pytest.skip(f"nginx or openssl is not installed and could not be installed: {err}")
    return _nginx() or pytest.skip("nginx is not on PATH nor in /usr/sbin after installing it")


def _nginx() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def render(conf: str, *, https: int, http: int, certs: Path, upstream: str) -> str:
    """The shipped file with only its ports, certificate directory and upstream changed, each where expected."""
    for pattern, replacement, expected in (
        (r"^(\s*listen\s+)443 ssl;", rf"\g<1>127.0.0.1:{https} ssl;", 1),
        (r"^(\s*listen\s+)80;", rf"\g<1>127.0.0.1:{http};", 1),
        (r"^(\s*ssl_certificate(?:_key)?\s+)/etc/nginx/certs/", rf"\g<1>{certs}/", 2),
        (r"^(\s*server\s+)host\.docker\.internal:8080;", rf"\g<1>{upstream};", 1),
    ):
        conf, done = re.subn(pattern, replacement, conf, flags=re.M)
        assert done == expected, f"{PROXY_CONF} changed: {pattern!r} matched {done} times, not {expected}"
    return conf


def self_signed_certificate(into: Path) -> Path:
    into.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(into / "privkey.pem"),
                    "-out", str(into / "fullchain.pem")], check=True, capture_output=True)  # fmt: skip
    return into


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wrapper_config(lab: Path, server_conf: Path) -> str:
    """What the nginx image's own nginx.conf is to the shipped file: its `http {}` block, here inside the lab."""
    temp_paths = "\n".join(f"    {kind}_temp_path {lab / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                              "uwsgi", "scgi"))  # fmt: skip
    return f"""{'user root;' if os.geteuid() == 0 else ''}
daemon off;
worker_processes 1;
pid {lab / 'nginx.pid'};
error_log {lab / 'error.log'};
events {{ worker_connections 64; }}
http {{
    access_log {lab / 'access.log'};
{temp_paths}
    include {server_conf};
}}
"""


@pytest.fixture(scope="module")
def store_id() -> str:
    return f"px-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def starter(dev_server, store_id):
    """A starter with the default limits, recording the headers of every request that reaches it."""
    settings = Settings(
        temporal=TemporalSettings(task_queue=f"tq-{uuid.uuid4()}"),  # no worker: runs stay at their start
        stores=[StoreSettings(id=store_id, url="http://127.0.0.1:1", consumer_key=SecretStr("ck"),
                              consumer_secret=SecretStr("cs"), webhook_secret=SecretStr(SECRET))],  # fmt: skip
    )
    app, seen = create_app(settings, dev_server.client), []

    async def recording(scope, receive, send):
        if scope["type"] == "http":
            seen.append(Headers(scope=scope))
        await app(scope, receive, send)

    async with serve(recording) as url:
        yield url, seen


@pytest.fixture(scope="module")
def proxy(starter, tmp_path_factory):
    """nginx with the shipped config: yields its https and http base URLs and a TLS context trusting it."""
    binary = nginx_binary()
    lab = tmp_path_factory.mktemp("webhook-proxy")
    certs = self_signed_certificate(lab / "certs")
    https, http = free_port(), free_port()
    server_conf = lab / "retail-sync.conf"
    server_conf.write_text(render(PROXY_CONF.read_text(), https=https, http=http, certs=certs,
                                  upstream=starter[0].removeprefix("http://")))  # fmt: skip
    (lab / "nginx.conf").write_text(wrapper_config(lab, server_conf))
    nginx = subprocess.Popen([binary, "-c", str(lab / "nginx.conf"), "-p", f"{lab}/", "-e", str(lab / "error.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        _wait_until_listening(nginx, https, lab / "error.log")
        yield f"https://127.0.0.1:{https}", f"http://127.0.0.1:{http}", ssl.create_default_context(
            cafile=str(certs / "fullchain.pem"))
    finally:
        nginx.send_signal(signal.SIGTERM)  # only the nginx this fixture started
        nginx.wait(10)


def _wait_until_listening(nginx: subprocess.Popen, port: int, error_log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if nginx.poll() is not None:
            log = error_log.read_text() if error_log.exists() else ""
            raise AssertionError(f"nginx exited {nginx.returncode}: {nginx.stderr.read().decode()}{log}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nginx did not listen on {port} within 10 s")


def padded_order(order_id: int, size: int) -> bytes:
    body = order_body(order_id)
    return body + b" " * (size - len(body))  # JSON may end in whitespace


async def test_a_signed_webhook_over_https_reaches_the_starter_and_starts_the_run(dev_server, starter, proxy,
                                                                                    store_id):  # fmt: skip
    https, _, tls = proxy
    body = order_body(93001)
    async with httpx.AsyncClient(verify=tls) as client:
        answer = await client.post(f"{https}/webhooks/woocommerce/{store_id}", content=body,
                                   headers={**signed(body), "X-Forwarded-For": "203.0.113.9"})  # fmt: skip
    assert answer.status_code == 202, answer.text
    assert answer.json()["workflow_id"] == order_workflow_id(store_id, "93001")
    description = await dev_server.client.get_workflow_handle(answer.json()["workflow_id"]).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    forwarded = starter[1][-1]
    assert forwarded["host"] == "127.0.0.1"
    assert forwarded["x-forwarded-proto"] == "https"
    assert forwarded["x-forwarded-for"] == "127.0.0.1"  # the proxy is the edge: a client's own claim is dropped


async def test_a_tampered_webhook_is_401_through_the_proxy(dev_server, proxy, store_id):
    https, _, tls = proxy
    body = order_body(93002)
    tampered = body.replace(b'"93002"', b'"93003"', 1)
    async with httpx.AsyncClient(verify=tls) as client:
        answer = await client.post(f"{https}/webhooks/woocommerce/{store_id}", content=tampered, headers=signed(body))
    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid signature"}  # the starter's answer, passed through
    assert not await run_exists(dev_server, store_id, 93002)


async def test_the_proxy_refuses_for_size_exactly_what_the_starter_would(dev_server, starter, proxy, store_id):
    https, _, tls = proxy
    largest, oversized = padded_order(93004, LIMIT), padded_order(93005, LIMIT + 1)
    async with httpx.AsyncClient(verify=tls, timeout=30) as client:
        taken = await client.post(f"{https}/webhooks/woocommerce/{store_id}", content=largest, headers=signed(largest))
        reached = len(starter[1])
        refused = await client.post(f"{https}/webhooks/woocommerce/{store_id}", content=oversized,
                                    headers=signed(oversized))  # fmt: skip
    assert taken.status_code == 202, taken.text
    assert refused.status_code == 413
    assert len(starter[1]) == reached  # nginx refused it: the starter never read a byte of it
    assert not await run_exists(dev_server, store_id, 93005)


async def test_plain_http_only_redirects_to_https(dev_server, starter, proxy, store_id):
    _, http, _ = proxy
    body = order_body(93006)
    reached = len(starter[1])
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{http}/webhooks/woocommerce/{store_id}?x=1", content=body, headers=signed(body))
        page = await client.get(f"{http}/")
    assert answer.status_code == 308  # a client that follows it keeps the POST and its body
    assert answer.headers["location"] == f"https://127.0.0.1/webhooks/woocommerce/{store_id}?x=1"
    assert page.status_code == 308 and page.headers["location"] == "https://127.0.0.1/"
    assert len(starter[1]) == reached
    assert not await run_exists(dev_server, store_id, 93006)


async def test_only_the_public_endpoints_are_proxied(starter, proxy):
    https, _, tls = proxy
    reached = len(starter[1])
    async with httpx.AsyncClient(verify=tls) as client:
        answers = [await client.get(f"{https}{path}") for path in ("/healthz", "/readyz", "/", "/webhooksx")]
        returns = await client.post(f"{https}/returns", json={})
    assert [a.status_code for a in answers] == [404] * 4  # health is for the operator on the host, not the internet
    assert returns.status_code == 404 and returns.json() == {"error": "the returns endpoint is not configured"}
    assert len(starter[1]) == reached + 1  # only /returns reached the starter
