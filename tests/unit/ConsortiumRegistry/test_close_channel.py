"""closeChannel by the first-named party, and with no reason: the channel's state follows only a
valid close."""

import brownie

from consortium.domain.hashing import doc_hash


def test_closeChannel__by_first_named_party__closes(registry, connect, bank, issuer):
    connect(bank, issuer)
    tx = registry.closeChannel(
        bank.address, issuer.address, doc_hash("end"), {"from": bank.account}
    )
    ev = tx.events["ChannelClosed"]
    assert (ev["memberA"], ev["memberB"], ev["closedBy"]) == (
        bank.address,
        issuer.address,
        bank.address,
    )
    assert ev["reasonHash"] == "0x" + doc_hash("end").hex()
    assert not registry.channelOpen(bank.address, issuer.address)


def test_closeChannel__by_party_operator__closes_for_its_member(
    registry, connect, bank, issuer, accounts
):
    connect(bank, issuer)
    bank.add_operator(accounts[7].address)
    tx = registry.closeChannel(bank.address, issuer.address, doc_hash("end"), {"from": accounts[7]})
    assert tx.events["ChannelClosed"]["closedBy"] == accounts[7]
    assert not registry.channelOpen(bank.address, issuer.address)


def test_closeChannel__zero_reason__reverts_and_channel_stays_open(registry, connect, bank, issuer):
    connect(bank, issuer)
    with brownie.reverts(revert_pattern=r"RegistryZeroHash.*"):
        registry.closeChannel(bank.address, issuer.address, b"\x00" * 32, {"from": bank.account})
    assert registry.channelOpen(bank.address, issuer.address)
