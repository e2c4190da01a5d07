"""Helpers shared by the BillToken tests: a snapshot of everything a refused call must leave alone."""


def snapshot(bills, node_ids, holders):
    """Balances of `holders` and the escrow on `node_ids`, the nodes, their bills and the id counter."""
    who = [str(h) for h in holders] + [bills.address]
    bill_ids = {int(bills.node(n)["billId"]) for n in node_ids}
    return {
        "next": bills.nextId(),
        "balances": {(n, h): bills.balanceOf(h, n) for n in node_ids for h in who},
        "nodes": {n: tuple(bills.node(n)) for n in node_ids},
        "bills": {b: tuple(bills.bill(b)) for b in bill_ids},
    }
