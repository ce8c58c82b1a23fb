"""`/simulate/shipment` and `/simulate/status/{id}`: how ShipBob's sandbox moves a shipment along.

A simulation is a chain `{action ShipOrder|DeliverOrder, delay (minutes), next{...}}` run against one
shipment (https://developer.shipbob.com/sandbox/simulations). Here a minute lasts `simulation_minute_s`.
A step that does not apply (shipping a cancelled shipment, delivering one not shipped) fails, and the rest
of the chain is skipped; the step status names are an inference.
"""
import asyncio
import uuid
from datetime import timedelta

from starlette.responses import Response

from sandbox.background import BackgroundTasks
from sandbox.shipbob import fulfilment
from sandbox.shipbob.auth import Call, Gate
from sandbox.shipbob.state import Simulation, SimulationStep, Store
from sandbox.shipbob.wire import ApiError, ShipBobJSON, invalid, iso, now

ACTIONS = ("ShipOrder", "DeliverOrder")


class Simulations:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._background = BackgroundTasks()

    async def close(self) -> None:
        await self._background.close()

    def start(self, simulation: Simulation) -> None:
        self._background.spawn(self._run(simulation))

    async def _run(self, simulation: Simulation) -> None:
        for index, step in enumerate(simulation.steps):
            await asyncio.sleep(step.delay_minutes * self.store.config.simulation_minute_s)
            step.message = self._apply(simulation.shipment_id, step.action)
            step.status = "Failed" if step.message else "Completed"
            if step.message:
                for later in simulation.steps[index + 1:]:
                    later.status, later.message = "Skipped", "A previous action failed."
            self.store.persist()
            if step.message:
                return

    def _apply(self, shipment_id: int, action: str) -> str | None:
        """Do the action; the reason it cannot be done, or None."""
        shipment = self.store.shipments[shipment_id]
        if action == "ShipOrder":
            if shipment.status != "Processing":
                return f"Shipment {shipment_id} is {shipment.status} and cannot be shipped."
            fulfilment.ship(self.store, shipment)
        else:
            if shipment.status != "Completed" or shipment.delivered_at:
                return f"Shipment {shipment_id} is not in transit and cannot be delivered."
            fulfilment.deliver(self.store, shipment)
        return None


def _steps(simulation, field: str = "simulation") -> list[SimulationStep]:
    steps, at = [], now()
    while simulation is not None:
        if not isinstance(simulation, dict) or simulation.get("action") not in ACTIONS:
            raise invalid(f"{field}.action", f"The action must be one of {', '.join(ACTIONS)}.")
        delay = simulation.get("delay") or 0
        if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
            raise invalid(f"{field}.delay", "The delay must be a whole number of minutes.")
        at += timedelta(minutes=delay)
        steps.append(SimulationStep(simulation["action"], delay, at))
        simulation, field = simulation.get("next"), f"{field}.next"
    return steps


def simulation_routes(gate: Gate, simulations: Simulations) -> list:
    def simulate_shipment(call: Call) -> Response:
        body = call.json()
        text = str(body.get("shipment_id") or "")
        shipment_id = int(text) if text.isdigit() else None
        if shipment_id not in call.store.shipments:
            raise invalid("shipment_id", f"Shipment {text} was not found.")
        simulation = Simulation(str(uuid.uuid4()), shipment_id, _steps(body.get("simulation")))
        call.store.simulations[simulation.id] = simulation
        simulations.start(simulation)
        return ShipBobJSON({"message": "Simulation registered successfully.", "simulation_id": simulation.id})

    def simulation_status(call: Call) -> Response:
        simulation = call.store.simulations.get(call.path["simulation_id"])
        if simulation is None:
            raise ApiError(404)
        chain = None
        for step in reversed(simulation.steps):
            chain = {"action": step.action, "status": step.status, "message": step.message,
                     "schedule_time": iso(step.schedule_time), "next": chain}
        return ShipBobJSON({"simulation_id": simulation.id, "entity_id": str(simulation.shipment_id),
                            "entity_type": "Shipment", "simulation": chain})

    return [
        gate.route("POST", "/2026-01/simulate/shipment", "orders_write", simulate_shipment),
        gate.route("GET", "/2026-01/simulate/status/{simulation_id}", "orders_read", simulation_status),
    ]
