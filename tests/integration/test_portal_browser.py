"""`consortium serve` in a real browser: headless Debian chromium driven by Selenium through
Debian's chromium-driver (tools/install-chromium.sh installs both).

Sign-in goes through the page's own wallet path: the test injects an EIP-1193 provider (the
interface MetaMask, Frame or a hardware wallet's bridge gives a page) before any page script runs;
its `personal_sign` hands the message to the test, which signs it with the regulator's test key (the
development node's account) and answers the page. The portal never sees a key.

Screenshots of the main pages go to build/portal-screenshots/. Accessibility: axe-core, when
node_modules/axe-core is installed, runs in the page: no serious or critical violation on any page
or on the report HTML (the test skips with the reason otherwise).
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from consortium.portal.auth import COOKIE
from tests.agent.harness import wait_for
from tests.fixtures import portal as portal_fixtures

portal_server = portal_fixtures.portal_server  # the module-scoped portal of the fixture day

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "portal-screenshots"
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = Path(os.environ.get("AXE_CORE_JS") or ROOT / "node_modules" / "axe-core" / "axe.min.js")

pytestmark = pytest.mark.skipif(
    CHROMEDRIVER is None or CHROMIUM is None,
    reason="chromium and chromium-driver not installed: run tools/install-chromium.sh "
    "(apt-get install chromium chromium-driver) to run the portal's browser tests",
)

PROVIDER = """
window.ethereum = {
  isTestProvider: true,
  request: function (req) {
    if (req.method === "eth_requestAccounts" || req.method === "eth_accounts") {
      return Promise.resolve([%(address)s]);
    }
    if (req.method === "personal_sign") {
      return new Promise(function (resolve) {
        window.__pendingSign = {message: req.params[0], resolve: resolve};
      });
    }
    return Promise.reject(new Error("unsupported " + req.method));
  }
};
"""


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1280,1600")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_script_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


class Session:
    """The browser signed in as one regulator through the injected wallet."""

    def __init__(self, driver, portal, regulator):
        self.d, self.p, self.reg = driver, portal, regulator
        self._script = None

    def sign_in(self):
        d = self.d
        if self._script:
            d.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", self._script)
        self._script = d.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": PROVIDER % {"address": json.dumps(self.reg.address)}},
        )
        d.get(self.p.url + "/signin")
        d.delete_all_cookies()
        d.find_element("id", "wallet-signin").click()
        pending = wait_for(
            lambda: d.execute_script("return window.__pendingSign && window.__pendingSign.message"),
            20,
            "the page to ask the wallet to sign",
        )
        message = bytes.fromhex(pending[2:]).decode()
        assert f"\n{self.reg.address}\n" in message and "Chain ID: " in message
        d.execute_script(
            "window.__pendingSign.resolve(arguments[0])", self.p.sign(self.reg.address, message)
        )
        wait_for(lambda: f"/regulators/{self.reg.address}" in d.current_url, 20, "the home page")
        return self

    def open(self, path):
        self.d.get(self.p.url + path)
        return self.d

    def status(self, path, method="GET"):
        """The HTTP status of `path` fetched by the page (with the browser's cookie)."""
        return self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {method: arguments[1], credentials: 'same-origin'})"
            ".then(r => done(r.status), e => done(String(e)));",
            self.p.url + path,
            method,
        )


def report_path(p, reg):
    b = p.reports[reg.address]
    return f"/regulators/{reg.address}/reports/{b.report['date']}/v{b.version}"


def shot(driver, name):
    path = SHOTS / f"{name}.png"
    path.unlink(missing_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 800), 6000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1600)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_regulator__signs_in_in_the_browser_and_sees_exactly_its_records(
    browser, portal_server
):
    p = portal_server
    for code, reg in p.regulators.items():
        s = Session(browser, p, reg).sign_in()
        shot(browser, f"{code}-home")
        d = s.open(report_path(p, reg))
        rows = [e.get_attribute("data-id") for e in d.find_elements("css selector", "tr.record")]
        assert sorted(rows) == sorted(r["id"] for r in p.reports[reg.address].report["records"])
        assert d.find_elements("css selector", "svg"), "the report's charts"
        assert "[sealed]" not in d.page_source  # opened with the regulator's key
        shot(browser, f"{code}-report")


def test_verify_and_filter__in_the_page(browser, portal_server):
    p = portal_server
    cn = p.regulators["cn"]
    s = Session(browser, p, cn).sign_in()
    d = s.open(report_path(p, cn))
    first = d.find_elements("css selector", "button.verify")[0]
    first.click()
    result = first.find_element("xpath", "following-sibling::span")
    wait_for(lambda: "verified" in result.text or "FAILED" in result.text, 20, "the proof check")
    assert "verified against the anchored root" in result.text
    table = d.find_element("css selector", "input.filter").get_attribute("data-table")
    rows = d.find_elements("css selector", f"#{table} tr.record")
    needle = rows[0].find_elements("tag name", "td")[2].text  # its event name
    d.find_element("css selector", f"input.filter[data-table='{table}']").send_keys("zz-none")
    assert all(not r.is_displayed() for r in rows)
    box = d.find_element("css selector", f"input.filter[data-table='{table}']")
    box.clear()
    box.send_keys(needle)
    shown = [r for r in rows if r.is_displayed()]
    assert shown and all(needle in r.text for r in shown)


def test_live_feed__an_event_arrives_after_a_transaction(browser, portal_server, cny, cn):
    p = portal_server
    s = Session(browser, p, p.regulators["cn"]).sign_in()
    d = s.open(f"/regulators/{p.regulators['cn'].address}/feed")
    wait_for(lambda: d.find_element("id", "feed-state").text == "live", 20, "the feed to connect")
    before = len(d.find_elements("css selector", "#feed li.live"))
    cny.issue(cn["bank"].address, 777, b"\x42" * 32, {"from": cn["bank"].account})
    wait_for(
        lambda: len(d.find_elements("css selector", "#feed li.live")) > before,
        20,
        "the DepositIssued event in the page",
    )
    live = d.find_elements("css selector", "#feed li.live")[-1].text
    assert "DepositIssued" in live and "amount=777" in live
    shot(browser, "cn-feed")


def test_other_regulator__403_unsigned_401_tampered_refused(browser, portal_server):
    p = portal_server
    cn, hk = p.regulators["cn"], p.regulators["hk"]
    s = Session(browser, p, cn).sign_in()
    assert s.status(report_path(p, cn)) == 200
    assert s.status(report_path(p, hk)) == 403
    assert s.status(f"/regulators/{hk.address}/feed") == 403
    assert s.status(f"/regulators/{hk.address}/feed/events") == 403
    d = s.open(report_path(p, hk))
    assert "Not yours to see" in d.title
    cookie = browser.get_cookie(COOKIE)["value"]
    tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    browser.delete_cookie(COOKIE)
    assert s.status(report_path(p, cn)) == 401
    browser.add_cookie({"name": COOKIE, "value": tampered, "path": "/"})
    assert s.status(report_path(p, cn)) == 401
    d = s.open(report_path(p, cn))
    assert "Sign-in required" in d.title


def test_overview_and_signin_pages__screenshots(browser, portal_server):
    p = portal_server
    browser.delete_all_cookies()
    browser.get(p.url + "/signin")
    shot(browser, "signin")
    s = Session(browser, p, p.regulators["hk"]).sign_in()
    d = s.open("/overview")
    assert p.regulators["cn"].address in d.page_source
    shot(browser, "overview")


@pytest.mark.skipif(
    not AXE.exists(),
    reason=f"axe-core not installed ({AXE} absent): add axe-core to package.json and npm install",
)
def test_accessibility__no_serious_or_critical_violation(browser, portal_server):
    p = portal_server
    cn = p.regulators["cn"]
    axe = AXE.read_text()
    browser.delete_all_cookies()
    pages = ["/signin"]
    s = Session(browser, p, cn).sign_in()
    pages += [
        f"/regulators/{cn.address}",
        report_path(p, cn),
        report_path(p, cn) + "/report.html",
        f"/regulators/{cn.address}/feed",
        "/overview",
    ]
    found = {}
    for path in pages:
        s.open(path)
        bad = serious_violations(browser, axe)
        if bad:
            found[path] = bad
    assert not found, found
    # the check can fail: an image without a text alternative is a critical violation
    browser.execute_script("document.querySelector('main').appendChild(new Image(20, 20))")
    assert "image-alt (critical)" in serious_violations(browser, axe)


def serious_violations(browser, axe: str) -> list[str]:
    """axe-core's serious and critical violations on the page the browser shows."""
    browser.execute_script(axe)
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done({violations: r.violations, passes: r.passes.length}),"
        " e => done(String(e)));"
    )
    assert isinstance(result, dict) and result["passes"] > 0, result  # axe ran its rules
    return [
        f"{v['id']} ({v['impact']})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def lookthrough_portal(
    suite, cn, regulator_cn, regulator_hk, enc_keys, registry, registry_admin, tmp_path
):
    """cn's broker publishes investors' positions sealed to reg-cn (two) and reg-hk (one) on a
    SealedRecords of the fixture's registry; the day's reports built with it, served by a portal
    holding reg-cn's key (no HoldingChain in this suite: positions are proved against the root)."""
    from brownie import SealedRecords
    from brownie import web3 as brownie_web3
    from web3 import Web3

    from consortium.domain.hashing import code32
    from consortium.domain.netting import CASH, SECURITY
    from consortium.lookthrough import Position, RegulatorKey
    from consortium.portal.app import Portal, create_app
    from consortium.portal.auth import Sessions, SignIn
    from consortium.portal.chainview import ChainView
    from consortium.reporting import build_reports
    from consortium.reporting.days import business_day_of, report_utc_offset
    from consortium.reporting.directory import Dossier
    from consortium.roles.lookthrough import Intermediary, publish_positions

    sealed_records = SealedRecords.deploy(registry, {"from": registry_admin})
    positions = [
        Position("inv-cn-1", SECURITY, 7001, 1_500, "CN"),
        Position("inv-cn-2", CASH, int.from_bytes(code32("CNY"), "big"), 123_456, "CN"),
        Position("inv-hk-1", SECURITY, 7001, 900, "HK"),
    ]
    keys = {
        r.jurisdiction: RegulatorKey(r.address, enc_keys[r.address].public_key)
        for r in (regulator_cn, regulator_hk)
    }
    (tx,) = publish_positions(
        Intermediary(cn["broker"], sealed_records), code32("C-1"), positions, keys
    )
    contracts = {k: c for k, c in suite.items() if k != "ReportAnchor"}
    contracts["SealedRecords"] = sealed_records
    offset = report_utc_offset()  # build_reports without an anchor counts days the same way
    built = build_reports(
        contracts,
        business_day_of(brownie_web3.eth.get_block(tx.block_number)["timestamp"], offset),
        regulator_cn.address,
        out=tmp_path,
        progress=False,
        private_keys={regulator_cn.address: enc_keys[regulator_cn.address].private_key},
        deployment_block=tx.block_number - 1,
        dossier=Dossier({regulator_cn.address.lower(): ("reg-cn", regulator_cn.name)}, {"CNY": 2}),
    )
    w3 = Web3(Web3.HTTPProvider(brownie_web3.provider.endpoint_uri))
    port = portal_fixtures.free_port()
    view = ChainView(w3, {k: c.address for k, c in contracts.items()})
    portal = Portal(
        view=view,
        reports=tmp_path,
        sign_in=SignIn(f"127.0.0.1:{port}", f"http://127.0.0.1:{port}", view.chain_id),
        sessions=Sessions(),
        keys={regulator_cn.address.lower(): enc_keys[regulator_cn.address].private_key},
        names={regulator_cn.address.lower(): regulator_cn.name},
        poll_seconds=0.2,
    )
    server = portal_fixtures.ServerThread(create_app(portal), port).start()
    yield portal_fixtures.PortalUnderTest(
        f"http://127.0.0.1:{port}",
        portal,
        {"cn": regulator_cn},
        {},
        {b.regulator: b for b in built},
    )
    server.stop()


def test_report_page__lookthrough_positions_opened_in_the_browser(browser, lookthrough_portal):
    from consortium.reporting.lookthrough import OTHER_REGULATOR

    p = lookthrough_portal
    cn = p.regulators["cn"]
    s = Session(browser, p, cn).sign_in()
    for path in (report_path(p, cn), report_path(p, cn) + "/report.html"):
        d = s.open(path)
        table = d.find_element("id", "tbl-lookthrough-positions")
        heads = [th.text for th in table.find_elements("css selector", "th")]
        rows = [
            dict(zip(heads, [td.text for td in tr.find_elements("tag name", "td")], strict=True))
            for tr in table.find_elements("css selector", "tr")[1:]
        ]
        opened = sorted(
            (r["investor"], r["security"], r["position"]) for r in rows if r["opening"] == "opened"
        )
        assert opened == [("inv-cn-1", "7001", "1,500"), ("inv-cn-2", "CNY", "CNY 1,234.56")]
        assert all(r["proved against the root"] == "yes" for r in rows if r["opening"] == "opened")
        other = [r for r in rows if r["opening"] != "opened"]
        assert [r["opening"] for r in other] == [OTHER_REGULATOR]  # reg-hk's: never opened
        assert "inv-hk-1" not in d.page_source and "900" not in other[0]["position"]
        assert d.find_element("id", "since").text.startswith("Since the report")
        assert d.find_element("link text", "live look-through feed").get_attribute("href")
        shot(browser, "cn-lookthrough" + ("-file" if path.endswith(".html") else ""))
