"""One seed end to end: its scenario played against a world, the invariants read, the runs it left cleaned up,
and a report that names the seed, lists the events as played and says how to play it again."""
import traceback
from dataclasses import dataclass, field

from temporalio.client import WorkflowExecutionStatus

from adapters.tryton_rpc import FaultPoint, TrytonRpc
from tests.simulation.invariants import violations
from tests.simulation.player import Player
from tests.simulation.scenarios import Scenario, scenario
from tests.simulation.world import World


@dataclass
class Outcome:
    seed: int
    events: int
    violations: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    order_id: str = ""
    end_state: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.violations)

    def report(self) -> str:
        played = "\n".join(f"  {n:2}. {line}" for n, line in enumerate(self.log, 1))
        broken = "\n".join(f"  - {v}" for v in self.violations)
        runs = "\n".join(f"  {line}" for line in self.end_state) or "  (not read)"
        return (f"seed {self.seed} (store order {self.order_id or '?'}): {len(self.violations)} invariant "
                f"violation(s)\n{broken}\nscenario as played:\n{played}\nruns at the end:\n{runs}\n"
                f"rerun: {rerun_command(self.seed)}")


def rerun_command(seed: int) -> str:
    if seed < 0:  # a scenario written out, not drawn from a seed
        return ".venv/bin/python -m pytest tests/simulation/test_found_defects.py"
    return (f".venv/bin/python -m bench.simulation --seed {seed}   "
            f"(or, a seed of the CI set: .venv/bin/python -m pytest tests/simulation -k 'seed_{seed}')")


async def run_seed(world: World, seed: int, *, reader: TrytonRpc | None = None,
                   fault_point: FaultPoint | None = None) -> Outcome:  # fmt: skip
    return await run_scenario(world, scenario(seed), reader=reader, fault_point=fault_point)


async def run_scenario(world: World, played: Scenario, *, reader: TrytonRpc | None = None,
                       fault_point: FaultPoint | None = None) -> Outcome:  # fmt: skip
    """`played` may be any list of events: a found failure kept as a regular test, say."""
    player = Player(world, played, fault_point)
    seed = played.seed
    outcome = Outcome(seed, 0)
    try:
        await player.play()
        outcome.violations = await violations(player, reader)
    except Exception as error:  # the world did not settle, a system refused the player: a finding too
        outcome.violations = [f"the scenario stopped at event {len(player.played.log) + 1}: {error!r}\n"
                              f"{traceback.format_exc(limit=6)}"]
    outcome.events, outcome.log, outcome.order_id = player.played.events, player.played.log, player.played.order_id
    outcome.end_state = player.played.end_state
    if len(outcome.log) < len(player.scenario.events):
        outcome.log += [f"(not played) {e}" for e in player.scenario.events[len(outcome.log):]]
    await _leave_nothing_running(player)
    return outcome


async def _leave_nothing_running(player: Player) -> None:
    """A parked run waits for a person forever; end it, so the next scenario's time skips do not move it."""
    try:
        await player.clear_faults()
    except Exception:
        pass
    for handle in await player.handles():
        try:
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate(reason="simulation scenario over")
        except Exception:
            pass
