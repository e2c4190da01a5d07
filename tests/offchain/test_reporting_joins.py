"""Rules' joins, party aliases, scaled and party-format fields, through build_report (no chain)."""

from consortium.reporting.anchoring import RulesStatus
from consortium.reporting.builder import RecordContext, build_report, join_index
from consortium.reporting.directory import PartyInfo, pseudonym
from consortium.reporting.rules import parse_rules
from tests.offchain.test_reporting_rules import JOINED

REG_CN, REG_HK = "0x" + "c1" * 20, "0x" + "d1" * 20
BANK, COMPANY, FOREIGN = "0x" + "0a" * 20, "0x" + "0b" * 20, "0x" + "0f" * 20


class Directory:
    def __init__(self):
        self.people = {
            REG_CN: PartyInfo(REG_CN, True, "CN", REG_CN, frozenset({"REGULATOR"})),
            REG_HK: PartyInfo(REG_HK, True, "HK", REG_HK, frozenset({"REGULATOR"})),
            BANK: PartyInfo(BANK, True, "CN", REG_CN, frozenset({"BANK"})),
            COMPANY: PartyInfo(COMPANY, True, "CN", REG_CN, frozenset({"FINANCE_COMPANY"})),
            FOREIGN: PartyInfo(FOREIGN, True, "HK", REG_HK, frozenset({"BROKER"})),
        }

    def info(self, address):
        return self.people[address.lower()]


def _event(name, n, **args):
    return {
        "chain_id": 1,
        "block_number": n,
        "block_hash": "0x" + "00" * 32,
        "tx_hash": f"0x{n:064x}",
        "log_index": 0,
        "timestamp": 86400 * 3 + n,
        "contract": "Book",
        "address": "0x" + "99" * 20,
        "event": name,
        "args": args,
    }


def _peer(address):
    return "0x" + "00" * 12 + address[2:]


def test_build_report__joined_parties_alias_scale_and_peer_format():
    rules = parse_rules(JOINED, "j.yaml")
    key1, key2 = "0x" + "01" * 32, "0x" + "02" * 32
    opened = [
        _event("Opened", 1, dayKey=key1, bank=BANK, company=COMPANY),
        _event("Opened", 2, dayKey=key2, bank=FOREIGN, company=COMPANY),
    ]
    parts = [
        _event("Part", 5, dayKey=key1, amount=7, peer=_peer(FOREIGN)),
        _event("Part", 6, dayKey=key2, amount=3, peer="0x" + "00" * 32),
        _event("Part", 7, dayKey="0x" + "03" * 32, amount=1, peer="0x" + "ee" * 32),  # no Opened
    ]
    directory = Directory()
    ctx = RecordContext(
        rules,
        directory,
        {},
        {},
        [directory.people[REG_CN], directory.people[REG_HK]],
        join_index(rules, opened),
    )
    status = RulesStatus(None, None, None)
    cn = build_report(parts, directory.people[REG_CN], 3, 1, ctx, status)
    hk = build_report(parts, directory.people[REG_HK], 3, 1, ctx, status)
    assert [r["fields"]["amount"] for r in cn["records"]] == [7, 3]
    assert [r["fields"]["amount"] for r in hk["records"]] == [3]  # only the day its broker is in
    first, second = cn["records"]
    assert first["parties"]["payer"] == {"id": BANK, "jurisdiction": "CN", "supervised": True}
    assert first["fields"]["gross"] == 14
    assert first["fields"]["peer"] == pseudonym(REG_CN, FOREIGN)  # HK's broker: never in clear
    assert second["parties"]["payer"]["id"] == pseudonym(REG_CN, FOREIGN)
    assert second["fields"]["peer"] == "ALL"
    assert hk["records"][0]["parties"]["payer"]["id"] == FOREIGN
    assert any("rule part: 1 event(s)" in n for n in cn["notes"])
    # own supervised peer in clear; a commitment (not an address) as it is
    ctx2 = RecordContext(rules, directory, {}, {}, ctx.regulators, ctx.joins)
    more = [
        _event("Part", 8, dayKey=key1, amount=1, peer=_peer(COMPANY)),
        _event("Part", 9, dayKey=key1, amount=1, peer="0x" + "ab" * 32),
    ]
    recs = build_report(more, directory.people[REG_CN], 3, 1, ctx2, status)["records"]
    assert [r["fields"]["peer"] for r in recs] == [COMPANY, "0x" + "ab" * 32]
