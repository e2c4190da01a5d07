"""`consortium deploy` and scripts/deploy.py name each token's issuer from the consortium file."""

from eth_account import Account

from consortium import cli
from consortium.bootstrap import deploy_for, institution_key, token_issuers
from consortium.chain import ROOT
from consortium.config import load_consortium

SEED = 11


def _at(ident: str) -> str:
    return Account.from_key(institution_key(SEED, ident)).address


def test_deploy_for__tokens_issued_by_the_files_csd_and_cash_issuer_not_the_admin(accounts):
    cfg = load_consortium(ROOT / "config/consortium.yaml")
    suite = deploy_for(accounts[0], cfg, SEED, record=False)
    assert suite["SecurityToken"].csd() == _at("csd") != accounts[0].address
    for code in ("CNY", "HKD"):
        assert suite[f"DepositToken:{code}"].issuer() == _at("sales-bank")
    assert set(token_issuers(cfg, SEED)) == {
        "SecurityToken",
        "DepositToken:CNY",
        "DepositToken:HKD",
    }


def test_cli_deploy__bad_consortium_file__exit_2_before_any_chain(tmp_path, monkeypatch, capsys):
    def no_chain(_args):
        raise AssertionError("connected to a chain with a bad consortium file")

    monkeypatch.setattr(cli, "_attach", no_chain)
    missing = tmp_path / "none.yaml"
    assert cli.main(["deploy", "--config", str(missing)]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("consortium: [1, 2]\n")
    assert cli.main(["deploy", "--config", str(bad), "--seed", "3"]) == 2
    assert str(bad) in capsys.readouterr().err


def test_scripts_deploy__takes_the_file_and_seed_from_the_environment(accounts, monkeypatch):
    import importlib.util

    monkeypatch.setenv("CONSORTIUM_CONFIG", str(ROOT / "config/consortium.yaml"))
    monkeypatch.setenv("CONSORTIUM_SEED", str(SEED))
    spec = importlib.util.spec_from_file_location("deploy_script", ROOT / "scripts/deploy.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    seen = {}
    monkeypatch.setattr(
        script, "deploy_for", lambda admin, cfg, seed: seen.update(cfg=cfg, seed=seed) or _Suite()
    )
    script.main()
    assert seen["seed"] == SEED and seen["cfg"].with_role("CSD")[0].id == "csd"


class _Suite:
    def addresses(self):
        return {}
