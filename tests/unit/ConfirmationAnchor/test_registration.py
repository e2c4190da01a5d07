"""User registration: the sales bank forwards an application, the issuer registers and answers."""

import brownie

from consortium.domain import qualification

H = b"\x42" * 32


def test_registration__round_trip__commitment_and_result_on_chain(anchor, people, conf_cast):
    bank, issuer = people.sales_bank, people.issuer_a
    inv = qualification.Investor(b"\x07" * 32, 30, 4)
    reg_id = bank.register_user(
        conf_cast.issuer_a.address, inv, {"name": "Zhang San", "id_no": "1101", "kyc_ok": True}
    )
    tx = bank.receipts[-1]
    ev = tx.events["RegistrationSubmitted"]
    assert (ev["registrationId"], ev["salesBank"], ev["issuer"]) == (
        "0x" + reg_id.hex(),
        conf_cast.sales_bank.address,
        conf_cast.issuer_a.address,
    )
    assert b"Zhang" not in bytes.fromhex(tx.input[2:])  # nothing personal in the calldata
    assert issuer.handle_registrations() == 1
    assert issuer.receipts[-1].events["RegistrationDecided"]["accepted"] is True
    assert bank.collect_registration_results() == 1
    r = anchor.getRegistration(reg_id)
    assert r[2] == 2  # Accepted
    assert conf_cast.issuer_a.address.lower() in bank.investors[inv.commitment].registered_with
    assert bank.store.get("registration", "0x" + reg_id.hex())["status"] == "accepted"


def test_registration__issuer_refuses__rejected_status(anchor, people, conf_cast):
    inv = qualification.Investor(b"\x08" * 32, 30, 4)
    reg_id = people.sales_bank.register_user(conf_cast.issuer_a.address, inv, {"kyc_ok": False})
    people.issuer_a.handle_registrations()
    people.sales_bank.collect_registration_results()
    assert anchor.getRegistration(reg_id)[2] == 3
    assert not people.sales_bank.investors[inv.commitment].registered_with


def test_submit__closed_channel__reverts(anchor, conf_cast, accounts, registry):
    registry.closeChannel(
        conf_cast.sales_bank.address,
        conf_cast.issuer_b.address,
        H,
        {"from": conf_cast.sales_bank.account},
    )
    with brownie.reverts(revert_pattern=r"RegistryChannelNotOpen:.*"):
        anchor.submitRegistration(
            conf_cast.issuer_b.address, H, H, {"from": conf_cast.sales_bank.account}
        )
    assert anchor.getRegistration(H)[2] == 0


def test_submit__twice_or_zero_commitment__reverts(anchor, conf_cast):
    anchor.submitRegistration(
        conf_cast.issuer_a.address, H, H, {"from": conf_cast.sales_bank.account}
    )
    with brownie.reverts(revert_pattern=r"AnchorRegistrationExists:.*"):
        anchor.submitRegistration(
            conf_cast.issuer_a.address, H, H, {"from": conf_cast.sales_bank.account}
        )
    with brownie.reverts(revert_pattern=r"AnchorZeroCommitment.*"):
        anchor.submitRegistration(
            conf_cast.issuer_a.address,
            b"\x01" * 32,
            b"\0" * 32,
            {"from": conf_cast.sales_bank.account},
        )


def test_decide__other_issuer_unknown_or_twice__reverts(anchor, conf_cast):
    with brownie.reverts(revert_pattern=r"AnchorRegistrationUnknown:.*"):
        anchor.decideRegistration(H, True, H, {"from": conf_cast.issuer_a.account})
    anchor.submitRegistration(
        conf_cast.issuer_a.address, H, H, {"from": conf_cast.sales_bank.account}
    )
    with brownie.reverts(revert_pattern=r"AnchorNotRegistrationIssuer:.*"):
        anchor.decideRegistration(H, True, H, {"from": conf_cast.issuer_b.account})
    anchor.decideRegistration(H, False, H, {"from": conf_cast.issuer_a.account})
    with brownie.reverts(revert_pattern=r"AnchorRegistrationAlreadyDecided:.*"):
        anchor.decideRegistration(H, True, H, {"from": conf_cast.issuer_a.account})
    assert anchor.getRegistration(H)[2] == 3
