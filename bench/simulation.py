"""Scenario simulation (issue 13, part 1): seeded order lifetimes played against the real workflows and activities
on the time-skipping test server, the WooCommerce and ShipBob sandboxes and the in-memory ERP, each checked
against the invariants (`tests/simulation/`). A failing seed prints its events as played and how to rerun it.

    .venv/bin/python -m bench.simulation --scenarios 300     # seeds 1..300 → bench/results/simulation.json
                                            [--first 1001] [--lanes 2]
    .venv/bin/python -m bench.simulation --seed 1234         # one seed, its events printed whatever happens
"""
import argparse
import asyncio
import gc
import logging
import time

from bench.stats import write_result
from tests.simulation.runner import run_seed
from tests.simulation.scenarios import SKUS, scenario
from tests.simulation.world import simulation_world


async def main(seeds: list[int], verbose: bool, lanes: int = 1) -> dict:
    """`lanes` worlds play at once, each its share of the seeds one after the other (time skipping is per world)."""
    started = time.monotonic()
    events = violations = played = 0
    failing: list[int] = []

    async def lane(share: list[int]) -> None:
        nonlocal events, violations, played
        async with simulation_world() as world:
            for sku in SKUS:
                await world.shopper.set_stock(sku, 10**6)
            for seed in share:
                outcome = await run_seed(world, seed)
                events, violations, played = events + outcome.events, violations + len(outcome.violations), played + 1
                if outcome.failed:
                    failing.append(seed)
                if outcome.failed or verbose:
                    print(outcome.report() if outcome.failed else f"seed {seed}: every invariant holds\n"
                          + scenario(seed).render(), flush=True)  # fmt: skip
                if played % 50 == 0:
                    print(f"{played} scenarios, {time.monotonic() - started:.0f} s, failing {sorted(failing)}",
                          flush=True)  # fmt: skip

    await asyncio.gather(*(lane(seeds[n::lanes]) for n in range(lanes)))
    failing.sort()
    elapsed = time.monotonic() - started
    print(f"{len(seeds)} scenarios ({events} events) in {elapsed:.0f} s: {len(seeds) / elapsed:.2f} scenarios/s, "
          f"{violations} invariant violations, failing seeds {failing}")
    return {"scenarios": len(seeds), "events": events, "invariant_violations": violations, "failing_seeds": failing,
            "scenarios_per_s": round(len(seeds) / elapsed, 2)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=300, help="seeds 1..N (from --first)")
    parser.add_argument("--first", type=int, default=1, help="the first seed")
    parser.add_argument("--seed", type=int, help="play this one seed only, printed, nothing written")
    parser.add_argument("--lanes", type=int, default=2, help="worlds playing at once (one per core is about right)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the product logs every retried fault: thousands of lines
    if args.seed is not None:
        asyncio.run(main([args.seed], verbose=True))
    else:
        seeds = list(range(args.first, args.first + args.scenarios))
        write_result("simulation.json", asyncio.run(main(seeds, verbose=False, lanes=args.lanes)))
    gc.collect()
