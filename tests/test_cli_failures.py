"""Every CLI subcommand against the failures an engineer meets: one line saying what is wrong and what to do,
exit 1 (refused) or 2 (cannot run), never a traceback. The CLI reads a real config file, as in production."""
import asyncio
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from canonical.returns import ReturnLine
from config import ConfigError, load_settings
from starter.cli import main as cli
from starter.returns import authorise_return
from tests.plugins.stack import STORE_ID, OrderStack, write_cli_config
from tests.test_returns_e2e import shipped_order
from workflows.returns import ReturnWorkflow

NO_ORDER, NO_RMA = "999999", "RMA-NOSUCH"


async def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, stdout, stderr of one command; an exception escaping `main` is the traceback a user would see."""
    try:
        code = await asyncio.to_thread(cli, argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


EVERY_COMMAND = [
    ["orders", "list"], ["orders", "list", "--parked"], ["orders", "show", STORE_ID, "1"],
    ["orders", "retry", STORE_ID, "1"], ["orders", "reroute", STORE_ID, "1", "--center", "1"],
    ["orders", "cancel", STORE_ID, "1"], ["returns", "create", STORE_ID, "1", "--line", "TEE-CLASSIC:1"],
    ["returns", "list"], ["returns", "show", NO_RMA], ["returns", "approve", NO_RMA], ["returns", "reject", NO_RMA],
    ["returns", "retry", NO_RMA], ["returns", "cancel", NO_RMA], ["refunds", "list"], ["refunds", "show", "x"],
    ["stock", "show", "TEE-CLASSIC"], ["stock", "reconcile"], ["catalog", "sync"], ["stores", "connect", STORE_ID],
    ["worker"], ["starter"],
]  # fmt: skip


@pytest.mark.parametrize("config", ["missing", "empty", "not toml", "invalid"])
async def test_a_config_that_cannot_be_used_is_an_error_naming_its_path_for_every_command(
    config, tmp_path, monkeypatch, capsys
):
    path = tmp_path / "retail-sync.toml"
    if config != "missing":
        path.write_text({"empty": "# nothing yet\n", "not toml": "[stores\nid = 1\n",
                         "invalid": '[[stores]]\nid = "North Shop"\nurl = "https://north.example"\n'}[config])  # fmt: skip
    monkeypatch.setenv("RETAIL_SYNC_CONFIG", str(path))
    for argv in EVERY_COMMAND:
        code, out, err = await run(argv, capsys)
        line = one_line(err)
        assert (code, out) == (2, ""), (argv, code, out, err)
        assert line.startswith("error: ") and str(path) in line, (argv, line)


async def test_an_unknown_store_is_the_same_refusal_for_every_command(order_stack, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RETAIL_SYNC_CONFIG", str(write_cli_config(order_stack, tmp_path / "retail-sync.toml")))
    for argv in (["orders", "list", "--store", "nosuch"], ["orders", "show", "nosuch", "1"],
                 ["orders", "retry", "nosuch", "1"], ["orders", "reroute", "nosuch", "1", "--center", "1"],
                 ["orders", "cancel", "nosuch", "1"], ["returns", "create", "nosuch", "1", "--line", "A:1"],
                 ["stock", "reconcile", "--store", "nosuch"], ["catalog", "sync", "--store", "nosuch"],
                 ["stores", "connect", "nosuch"]):  # fmt: skip
        code, out, err = await run(argv, capsys)
        assert (code, out) == (1, ""), (argv, code, out, err)
        assert one_line(err) == f"refused: unknown store 'nosuch' (configured: {STORE_ID})", argv


async def test_unknown_and_finished_orders_and_returns_are_refused_in_one_line(
    order_stack: OrderStack, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("RETAIL_SYNC_CONFIG", str(write_cli_config(order_stack, tmp_path / "retail-sync.toml")))
    order = await shipped_order(order_stack, [("MUG-CERAMIC", 1)])
    done = str(order["id"])
    mug = [ReturnLine(sku="MUG-CERAMIC", quantity=Decimal(1), reason="changed my mind")]
    authorised = await authorise_return(order_stack.client, order_stack.settings, STORE_ID, done, mug)
    returned = order_stack.client.get_workflow_handle_for(ReturnWorkflow.run, authorised.workflow_id)
    await returned.execute_update(ReturnWorkflow.cancel, "kept it")
    await asyncio.wait_for(returned.result(), 120)

    for argv, names in (
        (["orders", "show", STORE_ID, NO_ORDER], NO_ORDER), (["orders", "retry", STORE_ID, NO_ORDER], NO_ORDER),
        (["orders", "reroute", STORE_ID, NO_ORDER, "--center", "1"], NO_ORDER),
        (["orders", "cancel", STORE_ID, NO_ORDER], NO_ORDER), (["orders", "retry", STORE_ID, done], done),
        (["orders", "reroute", STORE_ID, done, "--center", "1"], done), (["orders", "cancel", STORE_ID, done], done),
        (["returns", "create", STORE_ID, NO_ORDER, "--line", "MUG-CERAMIC:1"], NO_ORDER),
        (["returns", "show", NO_RMA], NO_RMA), (["refunds", "show", "refund-nosuch"], "refund-nosuch"),
        *((["returns", action, rma], rma) for action in ("approve", "reject", "retry", "cancel")
          for rma in (NO_RMA, authorised.rma)),
    ):  # fmt: skip
        code, out, err = await run(argv, capsys)
        line = one_line(err)
        assert (code, out) == (1, ""), (argv, code, out, err)
        assert line.startswith("refused: ") and names in line, (argv, line)

    code, out, err = await run(["returns", "show", authorised.rma], capsys)
    assert (code, err) == (0, "") and "cancelled" in out
    code, out, err = await run(["orders", "show", STORE_ID, done], capsys)
    assert (code, err) == (0, "") and "completed" in out


async def test_temporal_down_is_one_line_with_what_to_do_and_no_retry_warnings(order_stack, tmp_path):
    config = write_cli_config(order_stack, tmp_path / "retail-sync.toml", temporal_address="127.0.0.1:1")
    done = subprocess.run([sys.executable, "-m", "starter.cli", "orders", "list"], capture_output=True, text=True,
                          env={**os.environ, "RETAIL_SYNC_CONFIG": str(config)}, timeout=60)  # fmt: skip
    assert (done.returncode, done.stdout) == (2, "")
    assert one_line(done.stderr).startswith("error: Temporal at 127.0.0.1:1 (namespace default) did not answer")


def test_the_environment_alone_configures_retail_sync_when_it_names_the_stores(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no retail-sync.toml here
    monkeypatch.setenv("RETAIL_SYNC_STORES", '[{"id": "north", "url": "https://north.example", "consumer_key": "ck",'
                                             ' "consumer_secret": "cs", "webhook_secret": "ws"}]')  # fmt: skip
    assert [store.id for store in load_settings().stores] == ["north"]
    monkeypatch.setenv("RETAIL_SYNC_CONFIG", str(tmp_path / "named.toml"))  # a file named is a file required
    with pytest.raises(ConfigError, match="named.toml: no such config file"):
        load_settings()
