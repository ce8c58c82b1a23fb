"""Adversity (issue 11, "Nothing lost, nothing moved twice"): duplicate, late and reordered events, faults between
steps and hostile input, each end to end on one embedded stack (real Temporal dev server, real Tryton from the
cached template, both sandboxes, the real starter over HTTP, the real worker). Then the numbers, read from the
systems themselves (`bench/adversity_ledger.py`); all must be 0 but `cases`.

The two cases that need the stack to themselves for a moment (store webhooks paused; the ERP stopped) do that
part first; then every case runs at once, as a store's traffic would; the hostile bodies go last, since each
of their signed, well-formed orders is a run the worker then takes to the ERP. A case that finds a defect
stops, prints it, and is left out of `cases`; the others go on.

    .venv/bin/python -m bench.adversity [--hostile 5000]
"""
import argparse
import asyncio
import gc
import logging
import time
import traceback
from collections import Counter
from datetime import timedelta

import httpx
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from bench import adversity_cases as case
from bench.adversity_driver import Defect, Driver, Floor
from bench.adversity_ledger import read_ledger
from bench.hostile_bodies import Secrets, hostile_cases
from bench.stack import RETURNS_TOKEN, STORE, STORE_SECRET, THREEPL_SECRET, bench_stack
from bench.stats import write_result
from bench.store_rest import StoreRest
from sandbox.woocommerce.config import DEMO_KEY

HOSTILE_SEED = 11
HOSTILE_IN_FLIGHT = 16


async def main(hostile: int) -> dict:
    started = time.monotonic()
    _core_logs_to_stderr()
    async with bench_stack(credit_note_retry_every=timedelta(seconds=5)) as stack:
        rest = StoreRest(stack.settings.stores[0].url, DEMO_KEY.consumer_key, DEMO_KEY.consumer_secret)
        floor = Floor(stack)
        watching = asyncio.create_task(floor.watch())
        async with httpx.AsyncClient(timeout=120) as http:
            driver = Driver(stack, floor, rest, http)
            await stack.erp.call("res.user", "search", [], 0, 1, None)  # log in now: a login under load may be a 404
            ran = await _run_cases(driver)
            five_xx = await _fire_hostile(driver, hostile)
            ran.append("hostile_bodies")
            ledger = await read_ledger(stack, rest)
        watching.cancel()
        await rest.aclose()
    for finding in ledger.findings:
        print(f"ledger: {finding}")
    print(f"wall time {time.monotonic() - started:.0f} s")
    return {"cases": ran, **ledger.numbers, "starter_5xx": five_xx}


def _core_logs_to_stderr() -> None:
    """The SDK's core writes its warnings (a hostile body's 2 MB payload) to stdout, among the cases' lines."""
    logs = LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                         forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")))
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=logs)))


async def _run_cases(driver: Driver) -> list[str]:
    """Each case's name once it ran end to end."""
    raced = await _case("duplicate_and_reordered_webhooks (a checkout's two snapshots racing)",
                        case.race_the_checkout_snapshots(driver))
    expired = await _case("paid_after_the_payment_window (its run expiring)", case.expire_a_run(driver))
    outage = await _case("erp_down_while_orders_arrive (the outage)", case.orders_while_the_erp_is_down(driver))
    together = {
        "failed_payment_paid_later": case.failed_payment_paid_later(driver),
        "refund_before_shipping": case.refund_before_shipping(driver),
        "store_refund_lost_response": case.store_refund_lost_response(driver),
        "rma_after_a_merchant_refund_of_the_same_line": case.rma_after_a_merchant_refund_of_the_same_line(driver),
        "reroute_twice": case.reroute_twice(driver),
        "forged_3pl_webhook": case.forged_3pl_webhook(driver),
        "return_cancelled_while_awaited": case.return_cancelled_while_awaited(driver),
        "webhook_replayed_after_runs_deleted": case.webhook_replayed_after_runs_deleted(driver),
        "to_the_cent": case.to_the_cent(driver),
        "absurd_signed_orders": case.absurd_signed_orders(driver),
    }
    if raced is not None:
        together["duplicate_and_reordered_webhooks"] = case.duplicate_and_reordered_webhooks(driver, raced)
    if expired is not None:
        together["paid_after_the_payment_window"] = case.paid_after_the_payment_window(driver, expired)
    if outage is not None:
        together["erp_down_while_orders_arrive"] = case.erp_down_while_orders_arrive(driver, *outage)
    seen = await asyncio.gather(*(_case(name, run) for name, run in together.items()))
    return [name for name, result in zip(together, seen) if result is not None]


async def _case(name: str, run):
    """The case's result, printed; None (and the defect printed) if it found one."""
    started = time.monotonic()
    try:
        result = await run
    except Defect as defect:
        print(f"{name}: DEFECT after {time.monotonic() - started:.0f} s: {defect}", flush=True)
        return None
    except Exception as error:  # the bench itself, or a system it drives, broke: say where
        print(f"{name}: STOPPED after {time.monotonic() - started:.0f} s: {error!r}\n{traceback.format_exc()}",
              flush=True)  # fmt: skip
        return None
    if isinstance(result, str):
        print(f"{name} ({time.monotonic() - started:.0f} s): {result}", flush=True)
    return result


async def _fire_hostile(driver: Driver, count: int) -> int:
    """`count` hostile requests at the running starter, 16 in flight, each on a connection of its own as
    WooCommerce and ShipBob deliver; 5xx answers and requests never answered are counted, the first few printed
    with their index in `hostile_cases(count, HOSTILE_SEED, …)` to send again."""
    secrets = Secrets(store_id=STORE, woocommerce=STORE_SECRET, shipbob=THREEPL_SECRET, returns_token=RETURNS_TOKEN)
    cases = hostile_cases(count, HOSTILE_SEED, secrets)
    gate, answers, failures = asyncio.Semaphore(HOSTILE_IN_FLIGHT), Counter(), []
    started = time.monotonic()

    async def fire(index: int, hostile, http: httpx.AsyncClient) -> None:
        async with gate:
            try:
                answer = await http.post(f"{driver.stack.starter_url}{hostile.endpoint}", content=hostile.body,
                                         headers=hostile.headers)  # fmt: skip
            except httpx.HTTPError as error:
                answers["no answer"] += 1
                failures.append(f"#{index} {hostile.endpoint} {hostile.breakage}: no answer ({error!r})")
                return
        answers[f"{hostile.endpoint.split('/')[1]} {answer.status_code}"] += 1
        if answer.status_code >= 500:
            failures.append(f"#{index} {hostile.endpoint} {hostile.breakage} (signed {hostile.signed}): "
                            f"{answer.status_code} {answer.text[:300]}")

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        await asyncio.gather(*(fire(index, hostile, http) for index, hostile in enumerate(cases)))
    print(f"hostile_bodies ({time.monotonic() - started:.0f} s): {count} bodies (seed {HOSTILE_SEED}) → "
          f"{dict(sorted(answers.items()))}", flush=True)
    for failure in failures[:10]:
        print(f"hostile_bodies: failed: {failure}")
    return len(failures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hostile", type=int, default=5000, help="hostile bodies fired at the starter")
    args = parser.parse_args()
    write_result("adversity.json", asyncio.run(main(args.hostile)))
    gc.collect()
