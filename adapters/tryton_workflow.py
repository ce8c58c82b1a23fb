"""Moving Tryton sales and invoices through their workflows, shared by orders, returns and refunds."""
from adapters.tryton_rpc import TrytonRpc, TrytonUserError


async def confirm_sale(rpc: TrytonRpc, sale_id: int) -> None:
    """Quote then confirm, from wherever the sale stands; another worker may be doing the same."""
    transitions = {"draft": ("quote", "quotation"), "quotation": ("confirm", "confirmed")}
    (sale,) = await rpc.call("sale.sale", "read", [sale_id], ["state"])
    state = sale["state"]
    while state in transitions:
        method, next_state = transitions[state]
        try:
            await rpc.call("sale.sale", method, [sale_id])
            state = next_state
        except TrytonUserError:
            (sale,) = await rpc.call("sale.sale", "read", [sale_id], ["state"])
            if sale["state"] == state:
                raise
            state = sale["state"]


async def ignore_exceptions(rpc: TrytonRpc, sale_id: int, wizard: str, kind: str) -> None:
    """Accept every cancelled document instead of recreating it, as the handle-exception wizard allows."""
    ask = await rpc.run_wizard(wizard, "ask", {}, model="sale.sale", ids=[sale_id])
    pending = ask["view"]["defaults"][f"domain_{kind}"]
    answer = {"ask": {f"domain_{kind}": pending, f"ignore_{kind}": pending, f"recreate_{kind}": []}}
    await rpc.run_wizard(wizard, "handle", answer, model="sale.sale", ids=[sale_id])


async def post_invoice(rpc: TrytonRpc, invoice_id: int) -> None:
    """Post, accepting that taxes differ from the products' defaults: the store's taxes are the ones charged."""
    try:
        await rpc.call("account.invoice", "post", [invoice_id])
    except TrytonUserError as error:
        if not (error.warning or "").endswith(".invoice_taxes"):
            raise
        await rpc.call("res.user.warning", "skip", error.warning, False)
        await rpc.call("account.invoice", "post", [invoice_id])
