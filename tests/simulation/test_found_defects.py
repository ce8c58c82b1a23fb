"""Defects the scenario simulation found, each kept as a scenario of its own: the events that broke an invariant,
played against the same world, with what must hold afterwards said in words."""
from decimal import Decimal

from tests.simulation.runner import run_scenario
from tests.simulation.scenarios import Event, Scenario
from workflows.order_messages import OrderStage
from workflows.order_to_cash import OrderToCashWorkflow


async def test_a_cancellation_whose_webhooks_were_lost_reaches_the_run_through_the_intake(world):
    """Found by the simulation (a store cancellation, its webhooks lost, before anything shipped): the intake
    backstop handed only paid, not cancelled orders to runs, so the run never heard of the cancellation and the
    warehouse shipped a cancelled order. The intake now tells a cancelled (or refunded) order's open run."""
    lost_cancellation = Scenario(-1, (
        Event("checkout", {"lines": [("TEE-CLASSIC", 1)], "paid": True}),
        Event("cancel_in_store", {"lost": True}),
        Event("wrap_up"),
    ))  # fmt: skip
    outcome = await run_scenario(world, lost_cancellation)
    assert not outcome.failed, outcome.report()
    run = world.client.get_workflow_handle(f"order-sim-{outcome.order_id}")
    assert (await run.query(OrderToCashWorkflow.progress)).stage == OrderStage.CANCELLED, outcome.report()
    threepl = [o for o in world.shipbob.store.orders.values() if o.reference_id.startswith(f"sim:{outcome.order_id}:")]
    shipped = [s for o in threepl for i in o.shipment_ids if (s := world.shipbob.store.shipments[i]).shipped_at]
    sale = world.erp.sales[f"sim:{outcome.order_id}"]
    assert not shipped and sale.state.value == "cancelled" and sale.shipped() == {}, outcome.report()
    assert Decimal(0) == sum(sale.shipped().values(), Decimal(0))
