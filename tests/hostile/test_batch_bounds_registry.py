"""Oversized batches, registry and reporting: roles per application, ReportAnchor proof length."""

from types import SimpleNamespace

import pytest

from consortium.domain.hashing import code32, doc_hash
from consortium.domain.roles import ROLES
from tests.fixtures.hostile import Bound, bound_tests
from tests.fixtures.reporting import BUSINESS_UTC_OFFSET

H = b"\x42" * 32
ASKABLE = sorted(r for r in ROLES if r != "REGULATOR")


@pytest.fixture(scope="module")
def world(registry, regulator_cn, accounts, ReportAnchor, registry_admin):
    return SimpleNamespace(
        registry=registry,
        regulator=regulator_cn,
        applicant=accounts[5],
        reports=ReportAnchor.deploy(registry, BUSINESS_UTC_OFFSET, {"from": registry_admin}),
    )


def _apply(w, n):
    roles = [ROLES[ASKABLE[i % len(ASKABLE)]] for i in range(n)]
    args = (doc_hash("salted name"), code32("CN"), w.regulator.address, roles, doc_hash("dossier"))
    return w.registry.applyForMembership, args, w.applicant


def _applied(w, tx, n):
    assert len(tx.events["MembershipApplied"]["roles"]) == n
    assert w.registry.getMember(w.applicant)[0] == 1  # Applied


def _proof(w, n):
    return w.reports.verifyRecord, (w.regulator.address, 1, 1, H, [H] * n), w.applicant


def _not_proven(w, result, n):
    assert result is False  # nothing anchored: the longest accepted proof proves nothing


BOUNDS = {
    "applyForMembership roles": Bound(
        16,
        _apply,
        r"RegistryTooManyRoles: 17, 16",
        lambda w: tuple(w.registry.getMember(w.applicant)),
        _applied,
    ),
    "ReportAnchor.verifyRecord proof length": Bound(
        64, _proof, r"ReportAnchorProofTooLong: 65, 64", lambda w: None, _not_proven, view=True
    ),
}


(
    test_batch__at_bound__accepted_under_gas_cap,
    test_batch__bound_plus_one__named_error_state_unchanged,
) = bound_tests(BOUNDS)
