#!/usr/bin/env python3
"""The integrator portal in a real browser: headless Chromium (Debian's chromium,
chromium-driver, python3-selenium) driven through the portal at /webhooks/portal/ of the
shared stack, as an integrator would, with the browser's own Basic auth:
1. log in (credentials in the URL fill the browser's auth cache, as the login dialog would);
2. register an endpoint with credentials: the API's errors appear beside their fields, the
   signing secret is shown once and never stored (storage, URL, a later page);
3. send a test event that the receiver verifies (signature and Basic auth), and see it in
   the log with its attempt;
4. make the receiver fail, see the failure and its reply excerpt, fix the receiver,
   Redeliver, and see it delivered;
5. disable and enable the endpoint, rotate the secret, recover since a time;
6. another reseller never sees the endpoint, and a cross-site POST is refused;
7. the register flow from the keyboard alone;
8. axe-core (npm, pinned in tests/browser/) injected in every page: no serious or critical
   violation.
One browser session for all of them (a second, short one for the other integrator).
WEBHOOK_PORTAL_SCREENSHOTS=1 saves a PNG of each page into docs/portal/."""
import json
import os
import re
import shutil
import tempfile
import time
import unittest
import urllib.request

import harness as h

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:  # scripts/test installs python3-selenium (scripts/lib.sh)
    raise SystemExit("test_portal_browser: python3-selenium is missing (%s): run scripts/test" % e)

REPO = os.environ.get("WEBHOOK_REPO") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHOTS = os.path.join(REPO, "docs", "portal")
WAIT = 20


def axe_source():
    build = os.environ.get("WEBHOOK_BUILD_DIR") or os.path.dirname(h.env()["WEBHOOK_STATE_DIR"])
    path = os.path.join(build, "browser-deps", "node_modules", "axe-core", "axe.min.js")
    if not os.path.isfile(path):
        raise SystemExit("test_portal_browser: %s is missing: scripts/test installs it (npm ci of "
                         "tests/browser/package-lock.json)" % path)
    with open(path, encoding="utf-8") as f:
        return f.read()


def start_browser():
    o = webdriver.ChromeOptions()
    o.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="portal-chromium-")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,900", "--user-data-dir=" + profile, "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--lang=en-US"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=o)
    driver.set_page_load_timeout(WAIT)
    # A document that is not the portal's HTML (the cross-site page of step 6) makes Chromium
    # ask for /favicon.ico, which the stack denies with an [error] line in Apache's log.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/favicon.ico"]})
    return driver, profile


class PortalBrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        e = h.env()
        cls.port = int(e["WEBHOOK_HTTP_PORT"])
        cls.origin = "http://127.0.0.1:%d" % cls.port
        cls.portal = cls.origin + "/webhooks/portal/"
        cls.axe = axe_source()
        cls.types = sorted(h.event_types())
        cls.reseller = h.unique_id("portal-r")
        cls.portfolio = h.unique_id("portal-p")
        cls.other_reseller = h.unique_id("portal-o")
        cls.user, cls.password = h.unique_id("portal-user"), h.new_password("portal-login")
        cls.other_user, cls.other_password = h.unique_id("portal-other"), h.new_password("portal-login")
        h.add_principal(cls.user, cls.password, "--reseller", cls.reseller)
        h.add_principal(cls.user, cls.password, "--portfolio", cls.portfolio)
        h.add_principal(cls.other_user, cls.other_password, "--reseller", cls.other_reseller)
        cls.receiver = h.Receiver()
        cls.path = "/portal-hook"
        cls.auth = ("portal-receiver", h.new_password("portal-recv"))
        cls.endpoint = None
        cls.secret = None
        cls.driver, cls.profile = start_browser()
        cls.login(cls.user, cls.password)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.driver.quit()
        finally:
            shutil.rmtree(cls.profile, ignore_errors=True)
            cls.receiver.close()
            if cls.endpoint:
                h.api("DELETE", "/endpoints/" + cls.endpoint)
            print("portal browser tests: %.1f s" % (time.monotonic() - cls.t0))

    # ---- helpers ----------------------------------------------------------------------

    @classmethod
    def login(cls, user, password):
        """What typing into the browser's login dialog does: the credentials go into its auth
        cache for the realm; the page is then opened again by its plain URL."""
        cls.driver.get("http://%s:%s@127.0.0.1:%d/webhooks/portal/#/event-types" % (user, password, cls.port))
        WebDriverWait(cls.driver, WAIT).until(lambda d: d.find_elements(By.XPATH, "//h1[.='Event catalogue']"))
        cls.driver.get(cls.portal + "#/endpoints")
        WebDriverWait(cls.driver, WAIT).until(lambda d: d.find_elements(By.XPATH, "//h1[.='Your endpoints']"))
        WebDriverWait(cls.driver, WAIT).until(
            lambda d: ("Signed in as %s " % user) in d.find_element(By.ID, "who").text)

    def go(self, hash_route, heading):
        """Opens a page afresh (the same URL again is a reload: a hash alone would not redraw)."""
        if self.driver.current_url == self.portal + hash_route:
            self.driver.refresh()
        else:
            self.driver.get(self.portal + hash_route)
        return self.wait_xpath("//h1[contains(., %s)]" % xq(heading))

    def wait_xpath(self, xpath, timeout=WAIT):
        WebDriverWait(self.driver, timeout).until(lambda d: d.find_elements(By.XPATH, xpath),
                                                  "no %s in:\n%s" % (xpath, self.text()[:2000]))
        return self.driver.find_element(By.XPATH, xpath)

    def wait_text(self, needle, timeout=WAIT):
        WebDriverWait(self.driver, timeout).until(lambda d: needle in self.text(),
                                                  "no %r in:\n%s" % (needle, self.text()[:3000]))

    def text(self):
        try:
            return self.driver.find_element(By.TAG_NAME, "main").text
        except WebDriverException:
            return ""

    def by_label(self, label):
        """The control whose <label> reads exactly `label` (the fixed accessible names)."""
        lab = self.wait_xpath("//label[normalize-space(.)=%s]" % xq(label))
        return self.driver.find_element(By.ID, lab.get_attribute("for"))

    def button(self, name):
        return self.wait_xpath("//button[normalize-space(.)=%s]" % xq(name))

    def field_error(self, control):
        """The error paragraph beside a control (aria-describedby names it)."""
        ids = (control.get_attribute("aria-describedby") or "").split()
        errs = [self.driver.find_element(By.ID, i) for i in ids if i.endswith("-error")]
        return errs[0].text if errs else ""

    def shot(self, name, element=None):
        """docs/portal/<name>.png, only when WEBHOOK_PORTAL_SCREENSHOTS=1 (normal runs leave
        the tree alone); element: scrolled to the top of the view first."""
        if os.environ.get("WEBHOOK_PORTAL_SCREENSHOTS") == "1":
            os.makedirs(SHOTS, exist_ok=True)
            if element is not None:
                self.driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", element)
            # the docs show a made-up secret, not one a stack issued
            self.driver.execute_script(
                "for (const i of document.querySelectorAll('input.secret')) i.value = arguments[0];",
                "whsec_" + "ExampleOnlyNotARealSigningSecret0123456789+/=")
            self.driver.save_screenshot(os.path.join(SHOTS, name + ".png"))

    def axe_check(self, page):
        self.driver.execute_script(self.axe)
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations)),"
            " e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}])));")
        bad = [v for v in json.loads(result) if v.get("impact") in ("serious", "critical")]
        self.assertEqual(bad, [], "%s: axe-core found serious/critical violations:\n%s" % (page, "\n".join(
            "%s (%s): %s at %s" % (v["id"], v["impact"], v["help"], [n.get("target") for n in v["nodes"]][:3])
            for v in bad)))

    def no_secret_kept(self, secret):
        storage = self.driver.execute_script(
            "return JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)]);")
        self.assertNotIn(secret, storage, "the secret is in web storage")
        self.assertNotIn(secret, self.driver.current_url, "the secret is in the URL")

    def delivery(self, ntf):
        status, _, body = h.api("GET", "/deliveries/" + ntf)
        self.assertEqual(status, 200, body)
        return body

    def need_endpoint(self):
        if not PortalBrowser.endpoint:
            self.fail("the endpoint of step 2 was not registered (see that failure)")
        return PortalBrowser.endpoint

    def post_event(self, code):
        return h.post_event({"eventCode": code, "resellerId": self.reseller, "portfolioId": h.unique_id("pf"),
                             "data": {"portal": True}})

    # ---- 1-2: login, register -----------------------------------------------------------

    def test_1_login_and_register(self):
        self.go("#/endpoints", "Your endpoints")
        self.assertIn("Signed in as %s" % self.user, self.driver.find_element(By.ID, "who").text)
        self.go("#/register", "Register an endpoint")
        for label in ("URL", "Username", "Password", "Acknowledgement", "Description"):
            self.by_label(label)
        self.wait_xpath("//fieldset[legend[normalize-space(.)='Event types']]")
        # the API's errors beside their fields: a bad URL and no event type
        self.by_label("URL").send_keys("ftp://example.com/hook")
        self.choose_scope(self.reseller)
        self.button("Register endpoint").click()
        self.wait_text("The endpoint was not saved")
        self.assertIn("http", self.field_error(self.by_label("URL")).lower())
        types_box = self.driver.find_element(By.XPATH, "//fieldset[legend[normalize-space(.)='Event types']]")
        self.assertEqual(types_box.get_attribute("aria-invalid"), "true")
        self.assertTrue(types_box.find_element(By.CSS_SELECTOR, "p.error").text, "no error beside Event types")
        self.shot("register-errors", self.driver.find_element(By.XPATH, "//h1"))
        # now a good one, with credentials
        url = self.receiver.set(self.path, h.ack())
        self.by_label("URL").clear()
        self.by_label("URL").send_keys(url)
        for code in self.types[:2]:
            self.driver.find_element(By.CSS_SELECTOR, "input[name=eventTypes][value='%s']" % code).click()
        self.by_label("Username").send_keys(self.auth[0])
        self.by_label("Password").send_keys(self.auth[1])
        Select(self.by_label("Acknowledgement")).select_by_value("notification-id")
        self.by_label("Description").send_keys("portal browser test")
        self.button("Register endpoint").click()
        self.wait_xpath("//h2[.='Endpoint registered']")
        self.assertIn("will not be shown again", self.text())
        secret = self.by_label("Signing secret").get_attribute("value")
        self.assertTrue(secret.startswith("whsec_"), secret)
        h.record_secret(secret, "signing-secret")
        h.record_secret(secret[len("whsec_"):], "signing-key")
        self.button("Copy secret")
        self.shot("register-secret", self.driver.find_element(By.XPATH, "//h1"))
        status, _, body = h.api("GET", "/endpoints?resellerId=" + self.reseller)
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["endpoints"]), 1, body)
        ep = body["endpoints"][0]
        self.assertEqual((ep["url"], ep["username"], ep["hasPassword"]), (url, self.auth[0], True))
        PortalBrowser.endpoint, PortalBrowser.secret = ep["id"], secret
        self.receiver.expect(self.path, secret, self.auth)
        # shown once: not kept anywhere, not on the endpoint's page
        self.no_secret_kept(secret)
        self.go("#/endpoints/" + ep["id"], "Endpoint")
        self.assertNotIn(secret, self.driver.page_source)
        self.driver.back()
        self.wait_xpath("//h1")
        self.assertNotIn(secret, self.driver.page_source, "the secret came back with the history")
        self.no_secret_kept(secret)

    def choose_scope(self, reseller):
        """The scope control: a select of GET /me's scopes (this user has two)."""
        Select(self.by_label("Scope")).select_by_visible_text("reseller %s" % reseller)

    # ---- 3: test event ------------------------------------------------------------------

    def test_2_send_test_event(self):
        ep = self.need_endpoint()
        self.go("#/endpoints/" + ep, "Endpoint")
        Select(self.by_label("Test event type")).select_by_value(self.types[1])
        self.button("Send test event").click()
        result = self.wait_xpath("//div[contains(@class,'test-result')]//a[starts-with(., 'ntf_')]")
        ntf = result.text
        self.wait_xpath("//div[contains(@class,'test-result')]//span[contains(@class,'badge') and .='delivered']")
        block = self.driver.find_element(By.CSS_SELECTOR, ".test-result").text
        self.assertIn("HTTP status\n200", block)
        self.assertRegex(block, r"Latency\n\d+ ms")
        self.assertIn(ntf, block)  # the receiver's acknowledgement echoes the id (reply excerpt)
        got = [r for r in self.receiver.requests(self.path) if r.notification_id == ntf]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0].json()["eventCode"], self.types[1])
        self.assertEqual(self.receiver.problems, [])
        self.shot("endpoint-test-event", self.driver.find_element(By.XPATH, "//section[h2[.='Send a test event']]"))
        # in the log, marked as a test, with its attempt
        self.go("#/endpoints/%s/deliveries" % ep, "Delivery log")
        row = self.wait_xpath("//tr[@data-notification=%s]" % xq(ntf))
        self.assertIn("test", row.text)
        row.find_element(By.TAG_NAME, "a").click()
        self.wait_xpath("//article[@data-attempt='1']")
        self.assertIn("HTTP status\n200", self.text())

    # ---- 4: failure, reply excerpt, Redeliver ----------------------------------------------

    def test_3_failure_then_redeliver(self):
        ep = self.need_endpoint()
        self.receiver.set(self.path, h.status(500, body=b"receiver-broken-7f3a"))
        PortalBrowser.failing = [self.post_event(self.types[0]), self.post_event(self.types[0])]
        ntfs = []
        for event_id in self.failing:
            h.wait_until(lambda: h.deliveries_for_event(event_id), timeout=WAIT, message="fan-out of " + event_id)
            ntfs.append(h.deliveries_for_event(event_id)[0][0])
        for ntf in ntfs:
            h.wait_until(lambda: self.delivery(ntf)["status"] == "failed", timeout=30,
                         message="%s to fail after its attempts" % ntf)
        PortalBrowser.failed_ntfs = ntfs
        # the log, filtered on failures, shows them; the notification shows each attempt's reply
        self.go("#/endpoints/%s/deliveries" % ep, "Delivery log")
        Select(self.by_label("Status")).select_by_value("failed")
        self.button("Apply filters").click()
        self.wait_xpath("//tr[@data-notification=%s]" % xq(ntfs[0]))
        self.assertNotIn("delivered", [td.text for td in self.driver.find_elements(By.CSS_SELECTOR, "tbody .badge")])
        self.shot("delivery-log")
        # by event type: the test notification of step 3 only; a time the API cannot read is
        # named beside its field; a range after everything matches nothing
        Select(self.by_label("Status")).select_by_value("")
        Select(self.by_label("Event type")).select_by_value(self.types[1])
        self.button("Apply filters").click()
        self.wait_xpath("//tr[@data-notification][contains(., %s)]" % xq(self.types[1]))
        shown = [r.get_attribute("data-notification") for r in self.driver.find_elements(By.CSS_SELECTOR, "tr[data-notification]")]
        self.assertTrue(shown and not set(shown) & set(ntfs), shown)
        self.by_label("From").send_keys("last tuesday")
        self.button("Apply filters").click()
        self.wait_text("The log could not be read")
        self.assertTrue(self.field_error(self.by_label("From")), "no error beside From")
        box = self.by_label("From")
        box.clear()
        box.send_keys("2100-01-01T00:00:00Z")
        self.button("Apply filters").click()
        self.wait_text("No notification matches.")
        self.go("#/deliveries/" + ntfs[0], "Notification")
        self.wait_xpath("//article[@data-attempt]")
        page = self.text()
        self.assertIn("HTTP status\n500", page)
        self.assertIn("receiver-broken-7f3a", page)
        self.assertNotIn(self.auth[1], self.driver.page_source, "the receiver's password is on the page")
        self.assertIn("webhook-id: %s" % ntfs[0], page)
        self.assertIn("webhook-signature: ", page)
        self.assertIn("Authorization: Basic [redacted]", page)
        self.assertIn('"eventCode": "%s"' % self.types[0], page)
        self.shot("notification")
        # fix the receiver, Redeliver, see it delivered in place
        self.receiver.set(self.path, h.ack())
        before = self.delivery(ntfs[0])["attemptCount"]
        self.button("Redeliver").click()
        self.wait_xpath("//dd/span[contains(@class,'badge') and .='delivered']", timeout=30)
        self.assertEqual(self.delivery(ntfs[0])["attemptCount"], before + 1)
        self.assertEqual(self.receiver.problems, [])

    # ---- 5: disable/enable, rotate, recover -------------------------------------------------

    def test_4_disable_enable_rotate_recover(self):
        ep = self.need_endpoint()
        self.go("#/endpoints/" + ep, "Endpoint")
        self.button("Disable").click()
        self.wait_xpath("//button[normalize-space(.)='Enable']")
        self.assertEqual(self.driver.switch_to.active_element.text, "Enable", "focus stays on the toggle")
        self.assertIn("disabled", self.text())
        self.assertFalse(h.api("GET", "/endpoints/" + ep)[2]["enabled"])
        self.go("#/endpoints", "Your endpoints")
        row = self.wait_xpath("//tr[@data-endpoint=%s]" % xq(ep))
        self.assertIn("disabled", row.text)
        self.shot("endpoints")
        self.go("#/endpoints/" + ep, "Endpoint")
        self.button("Enable").click()
        self.wait_xpath("//button[normalize-space(.)='Disable']")
        self.assertTrue(h.api("GET", "/endpoints/" + ep)[2]["enabled"])
        # rotate: a new secret, shown once
        self.button("Rotate secret").click()
        self.wait_text("It will not be shown again")
        new_secret = self.by_label("Signing secret").get_attribute("value")
        h.record_secret(new_secret, "signing-secret")
        h.record_secret(new_secret[len("whsec_"):], "signing-key")
        self.assertTrue(new_secret.startswith("whsec_") and new_secret != self.secret)
        self.no_secret_kept(new_secret)
        self.receiver.expect(self.path, new_secret, self.auth)
        # recover since a time before the second failed notification of step 4
        ntf = getattr(PortalBrowser, "failed_ntfs", [None, None])[1]
        self.assertIsNotNone(ntf, "step 4 did not leave a failed notification")
        since = self.delivery(ntf)["createdAt"]
        box = self.by_label("Recover since")
        box.clear()
        box.send_keys(since)
        self.button("Recover").click()
        self.wait_text("1 failed notification since")
        h.wait_until(lambda: self.delivery(ntf)["status"] == "delivered", timeout=30, message="recovered " + ntf)
        self.assertEqual(self.receiver.problems, [])
        self.assert_health(ep)
        self.assertNotIn(new_secret, self.driver.page_source, "the rotated secret is shown again")
        self.shot("endpoint", self.driver.find_element(By.XPATH, "//section[h2[starts-with(., 'Health')]]"))

    def assert_health(self, ep):
        self.go("#/endpoints/" + ep, "Endpoint")
        self.wait_xpath("//section[h2[starts-with(., 'Health')]]//dt[.='Success rate']")
        health = self.driver.find_element(By.XPATH, "//section[h2[starts-with(., 'Health')]]").text
        self.assertRegex(health, r"Attempts\n[1-9]\d*")
        self.assertRegex(health, r"Latency p95\n\d+ ms")

    # ---- 6: scopes, cross-site ---------------------------------------------------------------

    def test_5_other_reseller_and_cross_site(self):
        ep = self.need_endpoint()
        # A browser keeps one login per realm and sends it ahead for the paths it has seen:
        # another integrator is another browser (a fresh profile, closed at once).
        main_driver, main_profile = PortalBrowser.driver, PortalBrowser.profile
        PortalBrowser.driver, PortalBrowser.profile = start_browser()
        try:
            self.login(self.other_user, self.other_password)
            self.wait_text("No endpoint is registered yet.")
            self.assertNotIn(ep, self.driver.page_source)
            self.go("#/endpoints/" + ep, "Endpoint")
            self.wait_text("could not be read")
            self.assertIn("HTTP 404", self.text())
        finally:
            self.driver.quit()
            shutil.rmtree(self.profile, ignore_errors=True)
            PortalBrowser.driver, PortalBrowser.profile = main_driver, main_profile
        before = h.api("GET", "/endpoints/" + ep)[2]["updatedAt"]
        # A page of another site (localhost is not the same site as 127.0.0.1; the public
        # openapi.json is a document there) submits a form to the API: the classic CSRF
        # attempt, on rotate-secret, which needs no body. The browser sends its login along.
        self.driver.get("http://localhost:%d/webhooks/v1/openapi.json" % self.port)
        self.driver.execute_script(
            "const f = document.createElement('form'); f.method = 'POST'; f.action = arguments[0];"
            "f.enctype = 'text/plain'; document.body.append(f); f.submit();",
            "%s/webhooks/v1/endpoints/%s/rotate-secret" % (self.origin, ep))
        WebDriverWait(self.driver, WAIT).until(lambda d: d.current_url.startswith(self.origin))
        answer = self.driver.find_element(By.TAG_NAME, "body").text
        print("cross-site form POST answered: %s" % answer[:200])
        self.assertIn('"status":403', answer.replace(" ", ""))
        status, _, body = h.api("POST", "/endpoints/%s/rotate-secret" % ep,
                                headers={"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost:%d" % self.port})
        self.assertEqual(status, 403, body)
        self.assertEqual(h.api("GET", "/endpoints/" + ep)[2]["updatedAt"], before,
                         "a cross-site POST rotated the secret")

    # ---- 7: keyboard only ---------------------------------------------------------------------

    def test_6_register_with_keyboard_only(self):
        self.go("#/register", "Register an endpoint")
        url = self.receiver.set("/portal-keys", h.ack())
        active = lambda: self.driver.switch_to.active_element  # noqa: E731
        self.tab_to(lambda el: el.get_attribute("name") == "url")
        active().send_keys(url)
        self.tab_to(lambda el: el.get_attribute("name") == "scope")
        active().send_keys("reseller")  # type-ahead picks "reseller …"
        self.assertEqual(Select(active()).first_selected_option.text, "reseller %s" % self.reseller)
        self.tab_to(lambda el: el.get_attribute("value") == self.types[-1])
        active().send_keys(Keys.SPACE)
        self.tab_to(lambda el: el.get_attribute("name") == "description")
        active().send_keys("typed without a mouse")
        self.tab_to(lambda el: el.text == "Register endpoint")
        active().send_keys(Keys.ENTER)
        self.wait_xpath("//h2[.='Endpoint registered']")
        self.assertEqual(active().text, "Endpoint registered", "focus moves to the result")
        secret = self.by_label("Signing secret").get_attribute("value")
        h.record_secret(secret, "signing-secret")
        h.record_secret(secret[len("whsec_"):], "signing-key")
        self.tab_to(lambda el: el.text == "Copy secret")
        active().send_keys(Keys.ENTER)
        WebDriverWait(self.driver, WAIT).until(lambda d: d.find_element(By.CSS_SELECTOR, ".copied").text)
        status, _, body = h.api("GET", "/endpoints?resellerId=" + self.reseller)
        mine = [e for e in body["endpoints"] if e["url"] == url]
        self.assertEqual(len(mine), 1, body)
        self.assertEqual((mine[0]["eventTypes"], mine[0]["description"]), ([self.types[-1]], "typed without a mouse"))
        self.addCleanup(h.api, "DELETE", "/endpoints/" + mine[0]["id"])
        self.edit_then_delete(mine[0]["id"])

    def edit_then_delete(self, ep):
        """Edit (the same labelled form), then Delete: nothing happens until confirmed."""
        self.go("#/endpoints/" + ep, "Endpoint")
        box = self.by_label("Description")
        box.clear()
        box.send_keys("edited in the portal")
        self.button("Save changes").click()
        WebDriverWait(self.driver, WAIT).until(
            lambda d: h.api("GET", "/endpoints/" + ep)[2]["description"] == "edited in the portal")
        self.wait_text("edited in the portal")
        self.wait_text("Saved.")
        self.button("Delete").click()
        self.button("Cancel").click()
        self.assertEqual(h.api("GET", "/endpoints/" + ep)[0], 200, "deleted without confirmation")
        self.button("Delete").click()
        self.button("Delete endpoint").click()
        self.wait_xpath("//h1[.='Your endpoints']")
        self.assertEqual(h.api("GET", "/endpoints/" + ep)[0], 404)
        self.assertNotIn(ep, self.driver.page_source)

    def tab_to(self, match, limit=80):
        for _ in range(limit):
            self.driver.switch_to.active_element.send_keys(Keys.TAB)
            el = self.driver.switch_to.active_element
            if match(el):
                return el
        self.fail("Tab never reached the control (last: %s)" % self.driver.switch_to.active_element.get_attribute("outerHTML")[:200])

    # ---- 8: accessibility, CSP --------------------------------------------------------------

    def test_7_accessibility_of_every_page(self):
        ep = self.need_endpoint()
        ntf = getattr(PortalBrowser, "failed_ntfs", [None])[0]
        pages = [("#/endpoints", "Your endpoints"), ("#/register", "Register an endpoint"),
                 ("#/endpoints/" + ep, "Endpoint"), ("#/endpoints/%s/deliveries" % ep, "Delivery log"),
                 ("#/event-types", "Event catalogue")]
        if ntf:
            pages.append(("#/deliveries/" + ntf, "Notification"))
        for route, heading in pages:
            self.go(route, heading)
            time.sleep(0.3)  # the stats of the visible rows arrive after the page
            self.axe_check(route)
            if route == "#/event-types":
                # every type with an example notification body around its catalogue example
                first = self.driver.find_element(By.CSS_SELECTOR, "article.type")
                first.find_element(By.TAG_NAME, "summary").click()
                code = first.get_attribute("id")[len("type-"):]
                body = json.loads(first.find_element(By.TAG_NAME, "pre").text)
                self.assertEqual(body["eventCode"], code)
                self.assertTrue(body["data"], "no example data for %s" % code)
                self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "article.type")), len(self.types))
                self.shot("event-types")
        # the portal ran under its Content-Security-Policy without one violation
        logs = self.driver.get_log("browser")
        csp = [l["message"] for l in logs if "Content Security Policy" in l.get("message", "")]
        self.assertEqual(csp, [])

    def test_9_endpoint_list_pages(self):
        """Past one page (25), the list follows the API's `next`; each visible row gets its stats."""
        url = self.receiver.set("/portal-many", h.ack())
        made = [h.register_endpoint(url, self.types[:1], portfolio_id=self.portfolio)["id"] for _ in range(27)]
        for ep in made:
            self.addCleanup(h.api, "DELETE", "/endpoints/" + ep)
        self.go("#/endpoints", "Your endpoints")
        WebDriverWait(self.driver, WAIT).until(lambda d: len(self.listed()) == 25 and "…" not in self.text(),
                                               "25 rows with their stats")
        first_page = self.listed()
        self.assertIn("no attempts", self.text())
        self.driver.find_element(By.LINK_TEXT, "Next page").click()
        WebDriverWait(self.driver, WAIT).until(lambda d: self.listed() and not first_page & self.listed())
        second_page = self.listed()
        status, _, body = h.api("GET", "/endpoints?portfolioId=" + self.portfolio + "&limit=200")
        self.assertEqual(status, 200, body)
        self.assertTrue(set(made) <= first_page | second_page | self.later_pages(), "an endpoint was never listed")
        self.driver.find_element(By.LINK_TEXT, "First page").click()
        WebDriverWait(self.driver, WAIT).until(lambda d: self.listed() == first_page)

    def listed(self):
        """The endpoint ids of the list's rows, read in one script: the list re-renders as
        stats arrive, so rows found in one call may be gone by the next."""
        return set(self.driver.execute_script(
            "return [...document.querySelectorAll('tr[data-endpoint]')].map(r => r.dataset.endpoint);"))

    def later_pages(self):
        """The ids on the pages after the current one (following Next page to the end)."""
        seen = set()
        while self.driver.find_elements(By.LINK_TEXT, "Next page"):
            before = self.listed()
            self.driver.find_element(By.LINK_TEXT, "Next page").click()
            WebDriverWait(self.driver, WAIT).until(lambda d: before != self.listed())
            seen |= self.listed()
        return seen

    def test_8b_framed_by_self_only(self):
        """frame-ancestors 'self' (WebhookPortalFrameAncestors' default) in the browser: a page
        of the portal's origin frames it, another site's page gets nothing."""
        self.go("#/event-types", "Event catalogue")
        self.driver.get_log("browser")  # what came before is not this step's
        self.driver.execute_script(
            "const f = document.createElement('iframe'); f.id = 'inner'; f.src = arguments[0];"
            "f.title = 'portal'; document.body.append(f);", self.portal + "#/endpoints")
        WebDriverWait(self.driver, WAIT).until(lambda d: d.execute_script(
            "const f = document.getElementById('inner');"
            "return !!(f.contentDocument && f.contentDocument.querySelector('h1'));"))
        self.driver.get("http://localhost:%d/webhooks/v1/openapi.json" % self.port)
        self.driver.execute_script(
            "const f = document.createElement('iframe'); f.src = arguments[0]; document.body.append(f);",
            self.portal)
        WebDriverWait(self.driver, WAIT).until(lambda d: any(
            "frame-ancestors" in l.get("message", "") for l in d.get_log("browser")),
            "no frame-ancestors refusal reported by the browser")

    def test_8_portal_headers(self):
        req = urllib.request.Request(self.portal, headers={"Authorization": h.basic_auth_header(self.user, self.password)})
        with urllib.request.urlopen(req, timeout=10) as r:
            csp = r.headers["Content-Security-Policy"]
            self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
            self.assertEqual(r.headers["Referrer-Policy"], "no-referrer")
            self.assertIn("text/html", r.headers["Content-Type"])
        self.assertIn("default-src 'self'", csp)
        self.assertIn("frame-ancestors 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        js = urllib.request.Request(self.portal + "js/app.js", headers={"Authorization": h.basic_auth_header(self.user, self.password)})
        with urllib.request.urlopen(js, timeout=10) as r:
            self.assertIn("javascript", r.headers["Content-Type"])
        # without a login: Apache's 401, with the same headers
        try:
            urllib.request.urlopen(self.portal, timeout=10)
            self.fail("the portal answered without a login")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 401)
            self.assertIn("default-src 'self'", e.headers["Content-Security-Policy"])
        # no inline script or style in what is served
        with open(os.path.join(REPO, "portal", "index.html"), encoding="utf-8") as f:
            html = f.read()
        self.assertIsNone(re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son\w+=", html))


def xq(s):
    """An XPath string literal."""
    return "'%s'" % s if "'" not in s else 'concat("%s")' % s.replace('"', '", \'"\', "')


if __name__ == "__main__":
    h.main()
