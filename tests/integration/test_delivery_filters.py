#!/usr/bin/env python3
"""The delivery log's filters (docs/contract.md §4): GET /endpoints/{id}/deliveries with
eventCode, since and until (RFC 3339, inclusive, on createdAt) beside status, each alone and
combined, with paging; 422 naming each bad field; another scope's endpoint is 404 whatever
the parameters. The worker's fan-out copies the event's code into the delivery row
(sql/011_delivery_log_filters.sql), which the eventCode filter reads."""
import unittest

import harness as h

CODE_A = "management.terminal-modified"
CODE_B = "billing.transaction-created"
DATA = {CODE_A: {"terminalId": "t-1", "enabled": True}, CODE_B: {"billingTransactionId": "bt_1"}}
# createdAt of the six deliveries, oldest first (set after they were delivered)
TIMES = ["2026-01-0%dT12:00:00.000Z" % day for day in range(1, 7)]
CODES = [CODE_A, CODE_B, CODE_A, CODE_B, CODE_A, CODE_B]


class DeliveryFilters(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = h.Receiver()
        cls.reseller = h.unique_id("res")
        cls.ep = h.register_endpoint(cls.receiver.url("/filters"), [CODE_A, CODE_B], reseller_id=cls.reseller)
        cls.ntfs = []  # oldest first
        for code in CODES:
            event_id = h.post_event({"eventCode": code, "resellerId": cls.reseller, "portfolioId": h.unique_id("pf"),
                                     "data": DATA[code]})
            h.wait_until(lambda: h.deliveries_for_event(event_id), timeout=30, message="no delivery created")
            cls.ntfs.append(h.deliveries_for_event(event_id)[0][0])
        cls.receiver.wait_for(len(CODES), "/filters", timeout=30)
        ids = ",".join(h.q(n) for n in cls.ntfs)
        h.wait_until(lambda: h.sql_value("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered' "
                                         "AND notification_id IN (%s)" % ids) == str(len(CODES)),
                     timeout=30, message="not every delivery was delivered")
        for ntf, t in zip(cls.ntfs, TIMES):
            h.sql("UPDATE webhook_deliveries SET created_at = %s WHERE notification_id = %s"
                  % (h.q(t.replace("T", " ").rstrip("Z")), h.q(ntf)))
        # one failed delivery of each code, for the status filter
        h.sql("UPDATE webhook_deliveries SET status = 'failed' WHERE notification_id IN (%s, %s)"
              % (h.q(cls.ntfs[2]), h.q(cls.ntfs[3])))

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def listing(self, query):
        status, _, body = h.api("GET", "/endpoints/%s/deliveries?%s" % (self.ep["id"], query))
        self.assertEqual(status, 200, "%s: %r" % (query, body))
        return body

    def ids(self, query):
        """Notification ids of one page, as indexes into self.ntfs (newest first)."""
        body = self.listing(query)
        return [self.ntfs.index(d["notificationId"]) for d in body["deliveries"]]

    def test_fan_out_copies_the_event_code(self):
        rows = h.sql("SELECT d.event_code, e.event_code FROM webhook_deliveries d JOIN webhook_events e "
                     "ON e.id = d.event_id WHERE d.notification_id IN (%s)" % ",".join(h.q(n) for n in self.ntfs))
        self.assertEqual(len(rows), len(CODES))
        for delivery_code, event_code in rows:
            self.assertEqual(delivery_code, event_code)

    def test_each_filter_alone(self):
        self.assertEqual(self.ids(""), [5, 4, 3, 2, 1, 0])
        self.assertEqual(self.ids("eventCode=" + CODE_A), [4, 2, 0])
        self.assertEqual(self.ids("eventCode=" + CODE_B), [5, 3, 1])
        for d in self.listing("eventCode=" + CODE_A)["deliveries"]:
            self.assertEqual(d["eventCode"], CODE_A)
        self.assertEqual(self.ids("since=" + TIMES[3]), [5, 4, 3], "since is inclusive")
        self.assertEqual(self.ids("until=" + TIMES[2]), [2, 1, 0], "until is inclusive")
        self.assertEqual(self.ids("since=2026-01-03T12:00:00.001Z"), [5, 4, 3])
        self.assertEqual(self.ids("until=2026-01-03T11:59:59.999Z"), [1, 0])
        # an offset is converted to UTC: 13:00+01:00 is 12:00Z
        self.assertEqual(self.ids("since=2026-01-05T13:00:00%2B01:00"), [5, 4])
        self.assertEqual(self.ids("since=%s&until=%s" % (TIMES[1], TIMES[1])), [1], "one instant")
        self.assertEqual(self.ids("since=2027-01-01T00:00:00Z"), [])
        self.assertEqual(self.ids("status=failed"), [3, 2])

    def test_filters_combined(self):
        self.assertEqual(self.ids("eventCode=%s&since=%s" % (CODE_A, TIMES[2])), [4, 2])
        self.assertEqual(self.ids("eventCode=%s&since=%s&until=%s" % (CODE_B, TIMES[1], TIMES[4])), [3, 1])
        self.assertEqual(self.ids("eventCode=%s&status=failed" % CODE_A), [2])
        self.assertEqual(self.ids("eventCode=%s&status=delivered&until=%s" % (CODE_B, TIMES[4])), [1])
        self.assertEqual(self.ids("status=failed&since=%s&until=%s" % (TIMES[3], TIMES[5])), [3])
        self.assertEqual(self.ids("eventCode=%s&status=pending" % CODE_A), [])

    def test_paging_with_filters(self):
        for query, expected in (("eventCode=" + CODE_A, [4, 2, 0]), ("since=" + TIMES[1], [5, 4, 3, 2, 1]),
                                ("eventCode=%s&until=%s" % (CODE_B, TIMES[4]), [3, 1])):
            for limit in (1, 2):
                seen, after, pages = [], None, 0
                while True:
                    page = self.listing("%s&limit=%d%s" % (query, limit, "&after=" + after if after else ""))
                    pages += 1
                    self.assertLessEqual(len(page["deliveries"]), limit)
                    seen += [self.ntfs.index(d["notificationId"]) for d in page["deliveries"]]
                    after = page["next"]
                    if after is None:
                        break
                    self.assertLess(pages, 10, "paging does not end")
                self.assertEqual(seen, expected, "%s limit %d" % (query, limit))

    def bad(self, query, endpoint=None):
        status, _, body = h.api("GET", "/endpoints/%s/deliveries?%s" % (endpoint or self.ep["id"], query))
        return status, body

    def test_bad_values_are_422_naming_the_field(self):
        for query, field in (("eventCode=billing.nope", "eventCode"), ("eventCode=", "eventCode"),
                             ("eventCode=" + CODE_A.upper(), "eventCode"), ("since=yesterday", "since"),
                             ("since=2026-01-01", "since"), ("until=2026-01-01T00:00:00", "until"),
                             ("until=2026-02-30T00:00:00Z", "until"),
                             ("since=%s&until=%s" % (TIMES[2], TIMES[1]), "until")):
            status, body = self.bad(query)
            self.assertEqual(status, 422, "%s: %r" % (query, body))
            self.assertEqual([e["field"] for e in body["errors"]], [field], query)
        status, body = self.bad("eventCode=x&since=y&until=z&status=lost&limit=0")
        self.assertEqual(status, 422, body)
        self.assertEqual(sorted(e["field"] for e in body["errors"]),
                         ["eventCode", "limit", "since", "status", "until"])

    def test_another_scopes_endpoint_is_404_with_any_filter(self):
        user, pw = h.unique_id("uf"), "pw-filters-other-4c8e21"
        h.add_principal(user, pw, "--reseller", h.unique_id("res"))
        for query in ("eventCode=" + CODE_A, "since=" + TIMES[0], "until=" + TIMES[5], "eventCode=nope&since=x"):
            status, _, body = h.api("GET", "/endpoints/%s/deliveries?%s" % (self.ep["id"], query), user=user,
                                    password=pw)
            self.assertEqual(status, 404, "%s: %r" % (query, body))


if __name__ == "__main__":
    h.main()
