"""The production compose file stays valid, registers exactly our search attributes, and puts the starter behind
a TLS proxy on a port WordPress delivers to."""
import re
from datetime import timedelta
from pathlib import Path

import yaml

from config import ReturnPolicy, StarterSettings
from embedded.stack import Ports

from workflows import search_attributes as sa
from workflows.search_attributes import dev_server_flags

ROOT = Path(__file__).parents[1]
COMPOSE = ROOT / "docker-compose.temporal.yml"
PROXY_CONF = ROOT / "deploy" / "nginx" / "retail-sync.conf"
PROXY = "webhook-proxy"
WORDPRESS_DELIVERS_TO = {80, 443, 8080}  # wp_http_validate_url: the only ports of a public webhook URL


def test_compose_file_defines_temporal_with_a_database_and_the_ui():
    compose = yaml.safe_load(COMPOSE.read_text())
    assert {"postgresql", "temporal", "temporal-ui", "search-attributes"} <= set(compose["services"])
    assert compose["services"]["temporal"]["environment"]["DB"] == "postgres12"
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            # The webhook proxy is the one service a store on the internet must reach (WordPress delivers to
            # 443, and 80 only redirects there); everything else — Temporal, its UI, the database — is for the
            # operator on this host.
            if name == PROXY and port in ("443:443", "80:80"):
                continue
            assert port.startswith("127.0.0.1:"), f"{name}: {port} must bind to loopback only"


def test_the_temporal_ui_leaves_the_starters_port_free():
    compose = yaml.safe_load(COMPOSE.read_text())
    (ui,) = compose["services"]["temporal-ui"]["ports"]
    assert ui == "127.0.0.1:8233:8080"  # the dev server's UI port: the same URL in the demo and in production
    host_ports = {int(port.split(":")[-2]) for service in compose["services"].values()
                  for port in service.get("ports", [])}  # fmt: skip
    assert StarterSettings().port not in host_ports


def test_the_starter_listens_by_default_where_wordpress_delivers():
    assert StarterSettings().port in WORDPRESS_DELIVERS_TO
    assert StarterSettings().port >= 1024  # no privileges needed
    assert Ports().starter == StarterSettings().port


def test_the_webhook_proxy_serves_the_shipped_config_with_mounted_certificates():
    proxy = yaml.safe_load(COMPOSE.read_text())["services"][PROXY]
    assert proxy["image"].startswith("nginx:")
    mounts = {volume["source"]: volume["target"] for volume in proxy["volumes"]}
    assert all(volume["type"] == "bind" and volume["read_only"] for volume in proxy["volumes"])
    assert mounts["./deploy/nginx/retail-sync.conf"] == "/etc/nginx/conf.d/default.conf"  # not the image's own
    conf = PROXY_CONF.read_text()
    cert_dirs = {Path(path).parent.as_posix()
                 for path in re.findall(r"^\s*ssl_certificate(?:_key)?\s+(\S+);", conf, re.M)}  # fmt: skip
    assert cert_dirs and cert_dirs <= set(mounts.values())


def test_the_webhook_proxy_reaches_the_starter_on_the_host():
    """Until the starter has a container of its own (issue #15) it runs on the Docker host."""
    proxy = yaml.safe_load(COMPOSE.read_text())["services"][PROXY]
    assert "host.docker.internal:host-gateway" in proxy["extra_hosts"]
    upstreams = re.findall(r"^\s*server\s+(\S+);", PROXY_CONF.read_text(), re.M)
    assert upstreams == [f"host.docker.internal:{StarterSettings().port}"]


def test_the_proxy_takes_exactly_the_bodies_the_starter_takes():
    (limit,) = re.findall(r"^\s*client_max_body_size\s+(\d+)([km]?);", PROXY_CONF.read_text(), re.M)
    size = int(limit[0]) * {"": 1, "k": 1024, "m": 1024 * 1024}[limit[1]]
    assert size == StarterSettings().max_body_bytes


def test_compose_registers_the_same_search_attributes_as_the_dev_server():
    compose = yaml.safe_load(COMPOSE.read_text())
    command = " ".join(compose["services"]["search-attributes"]["command"])
    registered = dict(re.findall(r"--name (\w+) --type (\w+)", command))
    expected = dict(flag.split("=") for flag in dev_server_flags()[1::2])
    assert registered == expected
    assert set(registered) == {key.name for key in sa.ALL}


def test_closed_runs_are_kept_as_long_as_a_return_may_still_come():
    compose = yaml.safe_load(COMPOSE.read_text())
    kept = compose["services"]["temporal"]["environment"]["DEFAULT_NAMESPACE_RETENTION"]
    command = " ".join(compose["services"]["search-attributes"]["command"])
    assert f"namespace update --retention {kept} default" in command
    policy = ReturnPolicy()
    assert timedelta(days=int(kept.removesuffix("d"))) >= policy.window + policy.receive_window
