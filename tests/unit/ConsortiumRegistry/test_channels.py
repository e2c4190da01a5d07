"""Data channels: requested by a member, opened by the permission manager, closed by a party."""

import brownie

from consortium.domain.hashing import doc_hash
from consortium.domain.roles import ROLES


def test_request_then_open__channel_is_open_both_ways(registry, manager, bank, issuer):
    tx = bank.request_channel(issuer.address, "agreement v1")
    assert tx.events["ChannelRequested"]["agreementHash"] == "0x" + doc_hash("agreement v1").hex()
    assert not registry.channelOpen(bank.address, issuer.address)
    tx = issuer.request_channel(bank.address, "agreement v1")  # the counterparty countersigns
    ev = tx.events["ChannelCountersigned"]
    assert (ev["requester"], ev["counterparty"]) == (bank.address, issuer.address)
    assert registry.channelCountersigned(bank.address, issuer.address)
    tx = manager.open_channel(issuer.address, bank.address)
    assert tx.events["ChannelOpened"]["agreementHash"] == "0x" + doc_hash("agreement v1").hex()
    assert registry.channelOpen(bank.address, issuer.address)
    assert registry.channelOpen(issuer.address, bank.address)


def test_channel__operator_addresses_resolve_to_their_member(
    registry, connect, bank, issuer, accounts
):
    connect(bank, issuer)
    bank.add_operator(accounts[7].address)
    assert registry.channelOpen(accounts[7], issuer.address)


def test_open__not_requested__reverts(manager, bank, issuer):
    with brownie.reverts(revert_pattern=r"RegistryChannelNotRequested:.*"):
        manager.open_channel(bank.address, issuer.address)


def test_request__already_open__reverts(connect, bank, issuer):
    connect(bank, issuer)
    with brownie.reverts(revert_pattern=r"RegistryChannelAlreadyOpen:.*"):
        bank.request_channel(issuer.address, "again")


def test_request__bad_counterparty__reverts(registry, bank, accounts):
    with brownie.reverts(revert_pattern=r"RegistryChannelSelf:.*"):
        bank.request_channel(bank.address, "me")
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        bank.request_channel(accounts[9].address, "nobody")
    with brownie.reverts(revert_pattern=r"RegistryZeroHash.*"):
        registry.requestChannel(accounts[6], b"\x00" * 32, {"from": bank.account})


def test_open__not_countersigned__reverts_named_nothing_opens(registry, manager, bank, issuer):
    """The joining application is an agreement of both parties: the requester's resend is no
    countersignature, and the manager cannot open a request the counterparty did not sign."""
    bank.request_channel(issuer.address, "agreement as signed")
    bank.request_channel(issuer.address, "agreement as signed")  # the requester again: no consent
    assert not registry.channelCountersigned(bank.address, issuer.address)
    agreement = doc_hash("agreement as signed")
    with brownie.reverts(
        f"RegistryChannelNotCountersigned: {bank.address.lower()}, {issuer.address.lower()}, "
        f"{agreement!r}"
    ):
        manager.open_channel(issuer.address, bank.address)
    assert not registry.channelOpen(bank.address, issuer.address)
    assert registry.channelRequest(bank.address, issuer.address)[0] == bank.address


def test_withdraw__countersigned_request__consent_goes_with_it(registry, manager, bank, issuer):
    bank.request_channel(issuer.address, "v1")
    issuer.request_channel(bank.address, "v1")
    bank.withdraw_channel_request(issuer.address)
    assert not registry.channelCountersigned(bank.address, issuer.address)
    bank.request_channel(issuer.address, "v1")  # requested anew: a new countersignature is needed
    with brownie.reverts(revert_pattern=r"RegistryChannelNotCountersigned: .*"):
        manager.open_channel(bank.address, issuer.address)


def test_open__party_suspended_meanwhile__reverts(manager, bank, issuer):
    bank.request_channel(issuer.address, "a")
    issuer.request_channel(bank.address, "a")
    manager.suspend(issuer.address, "x")
    with brownie.reverts(revert_pattern=r"RegistryNotActiveMember:.*"):
        manager.open_channel(bank.address, issuer.address)


def test_close__by_party_or_manager(registry, manager, connect, bank, issuer):
    connect(bank, issuer)
    tx = registry.closeChannel(
        bank.address, issuer.address, doc_hash("end"), {"from": issuer.account}
    )
    assert tx.events["ChannelClosed"]["closedBy"] == issuer.address
    assert not registry.channelOpen(bank.address, issuer.address)
    with brownie.reverts(revert_pattern=r"RegistryChannelNotOpen:.*"):
        registry.closeChannel(
            bank.address, issuer.address, doc_hash("end"), {"from": manager.account}
        )
    connect(bank, issuer)
    registry.closeChannel(bank.address, issuer.address, doc_hash("end"), {"from": manager.account})
    assert not registry.channelOpen(bank.address, issuer.address)


def test_close__by_third_party__reverts(registry, connect, bank, issuer, regulator_cn):
    connect(bank, issuer)
    with brownie.reverts(revert_pattern=r"RegistryNotChannelParty:.*"):
        registry.closeChannel(
            bank.address, issuer.address, doc_hash("x"), {"from": regulator_cn.account}
        )
    assert registry.channelOpen(bank.address, issuer.address)


# ----------------------------------------------------------------- requireRoleWithChannel


def test_requireRoleWithChannel__member_or_its_operator__returns_member(
    registry, connect, bank, issuer, accounts
):
    connect(bank, issuer)
    assert (
        registry.requireRoleWithChannel(bank.address, ROLES["SALES_BANK"], issuer.address)
        == bank.address
    )
    bank.add_operator(accounts[7].address)
    assert (
        registry.requireRoleWithChannel(accounts[7], ROLES["SALES_BANK"], issuer.address)
        == bank.address
    )


def test_requireRoleWithChannel__no_open_channel__reverts_naming_both(
    registry, manager, connect, bank, issuer
):
    with brownie.reverts(
        f"RegistryChannelNotOpen: {bank.address.lower()}, {issuer.address.lower()}"
    ):
        registry.requireRoleWithChannel(bank.address, ROLES["SALES_BANK"], issuer.address)
    connect(bank, issuer)
    registry.closeChannel(
        bank.address, issuer.address, doc_hash("ended"), {"from": manager.account}
    )
    with brownie.reverts(
        f"RegistryChannelNotOpen: {bank.address.lower()}, {issuer.address.lower()}"
    ):
        registry.requireRoleWithChannel(bank.address, ROLES["SALES_BANK"], issuer.address)


def test_requireRoleWithChannel__counterparty_named_by_operator__reverts(
    registry, connect, bank, issuer, accounts
):
    """The counterparty is a member address: an operator address has no channel of its own."""
    connect(bank, issuer)
    issuer.add_operator(accounts[8].address)
    with brownie.reverts(
        f"RegistryChannelNotOpen: {bank.address.lower()}, {accounts[8].address.lower()}"
    ):
        registry.requireRoleWithChannel(bank.address, ROLES["SALES_BANK"], accounts[8])


def test_requireRoleWithChannel__wrong_role_or_suspended__registry_errors(
    registry, manager, connect, bank, issuer
):
    connect(bank, issuer)
    with brownie.reverts(revert_pattern=f"RegistryMissingRole: {bank.address.lower()}, .*"):
        registry.requireRoleWithChannel(bank.address, ROLES["BROKER"], issuer.address)
    manager.suspend(bank.address, "review")
    with brownie.reverts(f"RegistryNotActiveMember: {bank.address.lower()}, 3"):
        registry.requireRoleWithChannel(bank.address, ROLES["SALES_BANK"], issuer.address)
