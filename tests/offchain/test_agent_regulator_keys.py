"""The intermediary agent's regulators' keys (agent.yaml `settlement: regulator_keys`): a key is
taken only when it derives its regulator's member address, in the consortium file's order, and the
day hands every regulator's key out (scenarios.settlement_files.agent_settings)."""

from types import SimpleNamespace

from eth_account import Account

from consortium.agent.lines.holding import HoldingCustodianRole
from consortium.bootstrap import institution_key
from consortium.config import load_consortium
from consortium.envelope import public_key_of
from consortium.scenarios import settlement_files

SEED = 7
CONSORTIUM = """\
version: 1
consortium: {name: Keys, founder: Office, jurisdiction: HK}
jurisdictions:
  HK: {regulator: reg-hk}
  CN: {regulator: reg-cn}
institutions:
  - {id: reg-hk, name: HK regulator, jurisdiction: HK, roles: [REGULATOR]}
  - {id: reg-cn, name: CN regulator, jurisdiction: CN, roles: [REGULATOR]}
  - {id: reg-hk-2, name: Second HK regulator, jurisdiction: HK, roles: [REGULATOR]}
  - {id: custodian-hk, name: Custodian, jurisdiction: HK, roles: [CUSTODIAN]}
channels: []
currencies: [HKD]
"""


def _role(tmp_path, keys: dict) -> HoldingCustodianRole:
    path = tmp_path / "consortium.yaml"
    path.write_text(CONSORTIUM)
    cfg = load_consortium(path)
    addresses = {
        i.id: Account.from_key(institution_key(SEED, i.id)).address for i in cfg.institutions
    }
    settings = SimpleNamespace(addresses=addresses, line=lambda name: {"regulator_keys": keys})
    role = HoldingCustodianRole.__new__(HoldingCustodianRole)  # only the settings are read
    role.agent = SimpleNamespace(consortium=cfg, settings=settings)
    return role


def _pub(ident: str) -> str:
    return "0x" + public_key_of(institution_key(SEED, ident)).hex()


def test_regulator_keys__each_regulators_own_key__first_per_jurisdiction_in_file_order(tmp_path):
    keys = {"reg-hk-2": _pub("reg-hk-2"), "reg-cn": _pub("reg-cn"), "reg-hk": _pub("reg-hk")}
    role = _role(tmp_path, keys)
    out = role.regulator_keys()
    addresses = role.agent.settings.addresses
    assert set(out) == {"HK", "CN"}
    assert out["HK"].address == addresses["reg-hk"]  # the file's first HK regulator, not reg-hk-2
    assert out["HK"].public_key.hex() == _pub("reg-hk")[2:]
    assert out["CN"].address == addresses["reg-cn"]


def test_regulator_keys__another_members_key_or_no_key__left_out_and_logged(tmp_path, caplog):
    keys = {"reg-hk": _pub("custodian-hk"), "reg-cn": "0x1234"}
    with caplog.at_level("ERROR", logger="consortium.agent"):
        assert _role(tmp_path, keys).regulator_keys() == {}
    assert "reg-hk is not the key of its member address" in caplog.text
    assert "reg-cn: not a public key" in caplog.text


def test_day_settings__every_regulators_public_key__derives_its_address(tmp_path):
    path = tmp_path / "consortium.yaml"
    path.write_text(CONSORTIUM)
    cfg = load_consortium(path)
    given = settlement_files.regulator_keys(cfg, SEED)
    assert given == {r: _pub(r) for r in ("reg-hk", "reg-cn", "reg-hk-2")}
    role = _role(tmp_path, given)
    assert {k.address for k in role.regulator_keys().values()} == {
        Account.from_key(institution_key(SEED, r)).address for r in ("reg-hk", "reg-cn")
    }
