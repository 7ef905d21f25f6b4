#!/usr/bin/env python3
"""Module directives at start-up:
- WebhookSecretKeyFile: a missing, unreadable or malformed key file stops Apache at start-up
  with one clear line naming the file and the recipe (WH00002, from the directive, so
  configtest says the same); a good one lets it start;
- WebhookAllowPrivateTargets On admits every address (the shared stack uses a CIDR list, the
  outage test's private stack Off);
- WebhookDatabaseTimeout outside 1-300 is refused at start-up (WH00061);
- WebhookDatabase values may be quoted (a password with a space), and its start-up error
  (WH00001) never echoes a value;
- WebhookPortalFrameAncestors refuses what could break out of the CSP directive (WH00037),
  WebhookPortal anything but On/Off (WH00038); a good list ends up in the portal's
  Content-Security-Policy.

Runs its own Apache (the shared stack's rendered httpd.conf with another port, pid file, logs
and the directive under test) in the foreground, and always stops it. It reads the shared
stack's database like the stack's own Apache does; no component of the shared stack is
stopped or reconfigured."""
import os
import re
import shutil
import subprocess
import unittest
import urllib.request

import harness as h

APACHE = os.environ.get("WEBHOOK_APACHE_BIN", "/usr/sbin/apache2")


class ModuleDirectives(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        e = h.env()
        cls.dir = os.path.join(os.path.dirname(e["WEBHOOK_STATE_DIR"]), "itest-private", "module-directives")
        shutil.rmtree(cls.dir, ignore_errors=True)
        os.makedirs(os.path.join(cls.dir, "run"))
        os.chmod(cls.dir, 0o755)
        with open(os.path.join(e["WEBHOOK_STATE_DIR"], "httpd", "httpd.conf"), encoding="utf-8") as f:
            cls.template = f.read()

    def config(self, key_path, extra=""):
        port = h.whstack.free_port()
        self.port = port
        conf = self.template + "\n" + extra + "\n"
        conf = re.sub(r"(?m)^Listen .*$", "Listen 127.0.0.1:%d" % port, conf)
        conf = re.sub(r"(?m)^PidFile .*$", 'PidFile "%s/run/httpd.pid"' % self.dir, conf)
        conf = re.sub(r"(?m)^DefaultRuntimeDir .*$", 'DefaultRuntimeDir "%s/run"' % self.dir, conf)
        conf = re.sub(r"(?m)^ErrorLog .*$", 'ErrorLog "%s/error_log"' % self.dir, conf)
        conf = re.sub(r"(?m)^CustomLog .*$", 'CustomLog "%s/access_log" stack' % self.dir, conf)
        conf = re.sub(r"(?m)^WebhookSecretKeyFile .*$", 'WebhookSecretKeyFile "%s"' % key_path, conf)
        path = os.path.join(self.dir, "httpd.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write(conf)
        log = os.path.join(self.dir, "error_log")
        if os.path.exists(log):
            os.remove(log)
        return path, log

    def start(self, key_path, extra="", while_up=None):
        """Starts Apache in the foreground; runs while_up() if it came up; returns (exit status
        or None if it kept running, log)."""
        conf, log = self.config(key_path, extra)
        p = subprocess.Popen([APACHE, "-f", conf, "-DFOREGROUND"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env=dict(os.environ, **h.sanitizer_env(self.dir)))
        def settled():
            if p.poll() is not None:
                return True
            try:
                with open(log, encoding="utf-8", errors="replace") as f:
                    return "resuming normal operations" in f.read()
            except OSError:
                return False
        try:
            h.wait_until(settled, timeout=15, message="Apache to exit or to start")
            rc = p.poll()
            if rc is None and while_up:
                while_up()
        finally:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
        out = p.stdout.read().decode("utf-8", "replace")
        p.stdout.close()
        text = out
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as f:
                text += f.read()
        return rc, text

    def assert_refused(self, key_path, why):
        rc, text = self.start(key_path)
        self.assertIsNotNone(rc, "Apache started with %s" % why)
        self.assertNotEqual(rc, 0, why)
        lines = [l for l in text.splitlines() if "WH00002" in l]
        self.assertEqual(len(lines), 1, "%s: expected one WH00002 line in:\n%s" % (why, text))
        self.assertIn("WebhookSecretKeyFile", lines[0])
        self.assertIn("od -An -tx1 -N32 /dev/urandom", lines[0], "the line gives the key-file recipe")
        self.assertIn(key_path, lines[0], "the line names the file")

    def test_missing_key_file_stops_startup(self):
        self.assert_refused(os.path.join(self.dir, "no-such.key"), "a missing key file")

    def test_malformed_key_file_stops_startup(self):
        bad = os.path.join(self.dir, "bad.key")
        with open(bad, "w") as f:
            f.write("not-hex\n")
        self.assert_refused(bad, "a malformed key file")

    def test_unreadable_key_file_stops_startup(self):
        # a directory cannot be read as a file, even by root
        self.assert_refused(self.dir, "a directory as key file")

    def test_good_key_file_starts(self):
        good = os.path.join(self.dir, "good.key")
        shutil.copy(h.env()["WEBHOOK_SECRET_KEY_FILE"], good)
        rc, text = self.start(good)
        self.assertIsNone(rc, "Apache must keep running with a good key file:\n" + text)
        self.assertNotIn("WH00002", text)


    def test_allow_private_targets_on_admits_everything(self):
        good = os.path.join(self.dir, "good.key")
        shutil.copy(h.env()["WEBHOOK_SECRET_KEY_FILE"], good)
        results = {}

        def register():
            e = h.env()
            url = "http://127.0.0.1:%d/webhooks/v1/endpoints" % self.port
            for host in ("10.0.0.1", "169.254.169.254", "[fe80::1]", "0x7f000001"):
                status, hdrs, body = h.http_request("POST", url, body=h._json.dumps({
                    "url": "http://%s/hook" % host, "eventTypes": ["billing.subscription-created"],
                    "resellerId": h.unique_id("res")}).encode(), headers={
                    "Content-Type": "application/json",
                    "Authorization": h.basic_auth_header(e["WEBHOOK_API_USER"], e["WEBHOOK_API_PASSWORD"])})
                # this Apache is not the stack's: its answers are checked against its own location
                h.openapi_check.check_answer("POST", url, status, hdrs, body, url[:-len("/endpoints")], None)
                results[host] = status
        # the last WebhookAllowPrivateTargets wins (a server-level directive set twice)
        rc, text = self.start(good, "WebhookAllowPrivateTargets On", while_up=register)
        self.assertIsNone(rc, text)
        self.assertEqual(results, {"10.0.0.1": 201, "169.254.169.254": 201, "[fe80::1]": 201, "0x7f000001": 201})

    def test_database_timeout_out_of_range_stops_startup(self):
        good = os.path.join(self.dir, "good.key")
        shutil.copy(h.env()["WEBHOOK_SECRET_KEY_FILE"], good)
        for value in ("0", "301", "2s"):
            rc, text = self.start(good, "WebhookDatabaseTimeout %s" % value)
            self.assertIsNotNone(rc, "Apache started with WebhookDatabaseTimeout %s" % value)
            self.assertIn("WH00061", text, value)
        rc, text = self.start(good, "WebhookDatabaseTimeout 5")
        self.assertIsNone(rc, text)

    def test_portal_frame_ancestors(self):
        good = os.path.join(self.dir, "good.key")
        shutil.copy(h.env()["WEBHOOK_SECRET_KEY_FILE"], good)
        for value in ("'self'; script-src *", '"https://gw.example.com"', "https://a.example,https://b.example",
                      "'none' https://gw.example.com", "'unsafe-inline'"):
            rc, text = self.start(good, "<Location /webhooks/portal>\nWebhookPortalFrameAncestors %s\n</Location>" % value)
            self.assertIsNotNone(rc, "Apache started with WebhookPortalFrameAncestors %s" % value)
            self.assertIn("WH00037", text, value)
        rc, text = self.start(good, "<Location /webhooks/portal>\nWebhookPortal maybe\n</Location>")
        self.assertIsNotNone(rc, "Apache started with WebhookPortal maybe")
        self.assertIn("WH00038", text)
        user, password = h.unique_id("fa-user"), h.new_password("fa-login")
        h.add_principal(user, password, "--reseller", h.unique_id("fa"))
        seen = {}

        def fetch():
            req = urllib.request.Request("http://127.0.0.1:%d/webhooks/portal/" % self.port,
                                         headers={"Authorization": h.basic_auth_header(user, password)})
            with urllib.request.urlopen(req, timeout=10) as r:
                seen["csp"] = r.headers["Content-Security-Policy"]
        rc, text = self.start(good, "<Location /webhooks/portal>\nWebhookPortalFrameAncestors 'self' "
                                    "https://gw.example.com:8443\n</Location>", while_up=fetch)
        self.assertIsNone(rc, text)
        self.assertTrue(seen.get("csp", "").endswith("frame-ancestors 'self' https://gw.example.com:8443"), seen)
        self.assertIn("default-src 'self'", seen["csp"])

    def test_database_values_may_be_quoted_and_errors_never_echo_them(self):
        good = os.path.join(self.dir, "good.key")
        shutil.copy(h.env()["WEBHOOK_SECRET_KEY_FILE"], good)
        # an unquoted password with a space: refused, and no part of it is in the message
        rc, text = self.start(good, 'WebhookDatabase "user=u database=d password=left rightHalf"')
        self.assertIsNotNone(rc, "Apache started with a broken WebhookDatabase")
        self.assertIn("WH00001", text)
        self.assertNotIn("rightHalf", text)
        self.assertNotIn("left", text.split("WH00001", 1)[1].split("\n", 1)[0])
        # quoted (single quotes, or escaped double quotes inside the directive's own): accepted
        for spec in ("user=u database=d password='left rightHalf'",
                     'user=u database=d password=\\"left rightHalf\\"'):
            rc, text = self.start(good, 'WebhookDatabase "%s"' % spec)
            self.assertIsNone(rc, "%s: %s" % (spec, text))


if __name__ == "__main__":
    h.main()
