"""The HTML report in a real headless browser (Debian chromium): it renders, with tables and charts,
and reads as a person reads it: supervised institutions by name, amounts with currency, local times.

Skips when chromium is absent: install it with tools/install-chromium.sh. The screenshot is saved to
build/report-screenshot.png for a person to look at.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from consortium.reporting import build_reports
from consortium.reporting.directory import Dossier, pseudonym

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]


def _chromium(*args, timeout=90):
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed: run tools/install-chromium.sh "
    "(apt-get install chromium) to run the browser test",
)
def test_html_report__headless_chromium__renders_tables_and_charts(
    suite,
    report_anchor,
    reporter,
    key_directory,
    enc_keys,
    business_day,
    regulator_cn,
    cn,
    hk,
    tmp_path,
):
    people = {regulator_cn.address: ("reg-cn", "Mainland test regulator")}
    people |= {i.address: (f"cn-{k}", f"Mainland test {k}") for k, i in cn.items()}
    people |= {i.address: (f"hk-{k}", f"Hong Kong test {k}") for k, i in hk.items()}
    dossier = Dossier(
        {a.lower(): v for a, v in people.items()}, {"CNY": 2, "HKD": 2}, "Asia/Shanghai"
    )
    (b,) = build_reports(
        suite,
        business_day.day,
        regulator_cn.address,
        anchor=report_anchor,
        reporter=reporter.account,
        keys=key_directory,
        out=tmp_path,
        private_keys={a: k.private_key for a, k in enc_keys.items()},
        disclosures=business_day.disclosures,
        progress=False,
        db_url=f"sqlite:///{tmp_path / 'i.sqlite'}",
        dossier=dossier,
    )
    html = b.paths["html"]
    assert html.parent.relative_to(tmp_path).parts[0] == "reg-cn"  # folder by regulator id
    url = html.resolve().as_uri()
    dom = _chromium("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the browser parsed the whole page: every chart and every table the page holds
    page = html.read_text()
    assert dom.stdout.count("<svg") == page.count("<svg") >= 6
    assert dom.stdout.count("<table") == page.count("<table") >= 8
    assert "Fund flows" in dom.stdout and "Netting efficiency per cycle" in dom.stdout
    assert "75.0%" in dom.stdout  # cycle c1: 1 - 2500/10000
    assert "BEN-42" in dom.stdout  # the regulator's decrypted view
    # readable: its own institutions by name, the others by pseudonym; amounts with currency
    assert "Mainland test broker" in dom.stdout and "Mainland test bank" in dom.stdout
    assert "Hong Kong test" not in dom.stdout
    assert pseudonym(regulator_cn.address, hk["broker"].address) in dom.stdout
    assert "CNY 5.00" in dom.stdout and "CNY 2.00" in dom.stdout  # payments s1 (500), s2 (200)
    assert "CNY 100.00" in dom.stdout  # 10,000 fen issued to the mainland bank
    assert "time (Asia/Shanghai)" in dom.stdout and "+08:00" in dom.stdout
    out = ROOT / "build" / "report-screenshot.png"
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)
    shot = _chromium(f"--screenshot={out}", "--window-size=1280,2600", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert out.exists() and out.stat().st_size > 20_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
