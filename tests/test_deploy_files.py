"""The production Temporal compose file stays valid, registers exactly our search attributes, and leaves the
starter a port WordPress delivers to."""
import re
from datetime import timedelta
from pathlib import Path

import yaml

from config import ReturnPolicy, StarterSettings
from embedded.stack import Ports

from workflows import search_attributes as sa
from workflows.search_attributes import dev_server_flags

COMPOSE = Path(__file__).parents[1] / "docker-compose.temporal.yml"
WORDPRESS_DELIVERS_TO = {80, 443, 8080}  # wp_http_validate_url: the only ports of a public webhook URL


def test_compose_file_defines_temporal_with_a_database_and_the_ui():
    compose = yaml.safe_load(COMPOSE.read_text())
    assert {"postgresql", "temporal", "temporal-ui", "search-attributes"} <= set(compose["services"])
    assert compose["services"]["temporal"]["environment"]["DB"] == "postgres12"
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{port} must bind to loopback only"


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
