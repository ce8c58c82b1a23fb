"""The production Temporal compose file stays valid and registers exactly our search attributes."""
import re
from datetime import timedelta
from pathlib import Path

import yaml

from config import ReturnPolicy

from workflows import search_attributes as sa
from workflows.search_attributes import dev_server_flags

COMPOSE = Path(__file__).parents[1] / "docker-compose.temporal.yml"


def test_compose_file_defines_temporal_with_a_database_and_the_ui():
    compose = yaml.safe_load(COMPOSE.read_text())
    assert {"postgresql", "temporal", "temporal-ui", "search-attributes"} <= set(compose["services"])
    assert compose["services"]["temporal"]["environment"]["DB"] == "postgres12"
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{port} must bind to loopback only"


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
