"""lineage of a node that does not exist: refused with its id, not an empty path."""

import brownie
import pytest


@pytest.mark.parametrize("offset", [0, 1])
def test_lineage__unknown_node__reverts(bills, make_bill, offset):
    make_bill()
    unknown = bills.nextId() + offset  # the next id to be given, and one beyond
    with brownie.reverts(f"BillUnknownNode: {unknown}"):
        bills.lineage(unknown)


def test_lineage__node_zero__reverts(bills):
    with brownie.reverts("BillUnknownNode: 0"):
        bills.lineage(0)
