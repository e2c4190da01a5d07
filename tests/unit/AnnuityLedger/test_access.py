"""AnnuityLedger access, the allowed side: refusals by caller live in tests/access/matrix.py, and who
among the holders of the right role may act (the employer's platform, trustee and account manager,
the plan's investment manager) in tests/hostile/test_review_annuity.py."""

from consortium.domain.hashing import doc_hash

H = doc_hash("account")


def test_ledger__suspended_member_reinstated__allowed_again(
    ledger, manager, suspended_annuity_member, trustee, account_manager
):
    manager.reinstate(suspended_annuity_member.address, "reconciled")
    member = {"from": suspended_annuity_member.account}
    tx = ledger.registerEmployer(doc_hash("e2"), trustee.address, account_manager.address, member)
    employer = tx.events["EmployerRegistered"]["employerId"]
    ledger.requestAccounts(employer, [H], member)
    assert ledger.getAccount(H)["status"] == 1
