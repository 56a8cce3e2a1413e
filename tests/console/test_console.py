"""The web console (src/mgmt/console/) in a real browser: Debian's headless
Chromium, driven by Selenium, against a real warrend with traffic from pika
(queues, an exchange and its binding, consumers, a held lock and a waiter).
It logs in through the form, visits every page, and checks what each shows
against what the API answers; publishes and gets a message from a queue's
page; checks the rate chart is drawn; saves a screenshot of every page in
$WARREN_CONSOLE_SCREENSHOTS (CTest: the build's tests/console/screenshots).
One browser and one warrend for the whole class: the steps run in order."""
import os
import shutil
import sys
import tempfile
import time
import unittest

import pika
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mgmt"))
from mgmt_harness import Api, MgmtWarrend, q  # noqa: E402

CHROMIUM = os.environ.get("WARREN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("WARREN_CHROMEDRIVER", "/usr/bin/chromedriver")
# Flags that work as root on a machine without a network or a display.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000"]

# A queue whose name is markup: the page must show it as text.
HOSTILE = '<img src=x onerror="document.title=1">&amp;'


class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        cls.shots = os.environ.get("WARREN_CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="wconsole-shots-")
        os.makedirs(cls.shots, exist_ok=True)
        cls.profile = tempfile.mkdtemp(prefix="wconsole-chromium-")
        cls.broker = MgmtWarrend().start()
        cls.api = Api(cls.broker.mgmt_port)
        cls.base = f"http://127.0.0.1:{cls.broker.mgmt_port}"
        cls.conns = []
        try:
            cls.make_traffic()
            opts = webdriver.ChromeOptions()
            opts.binary_location = CHROMIUM
            for f in FLAGS + [f"--user-data-dir={cls.profile}"]:
                opts.add_argument(f)
            cls.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
            cls.setup_s = time.monotonic() - cls.t0
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def cleanup(cls):
        if getattr(cls, "driver", None):
            cls.driver.quit()
        for c in cls.conns:
            if c.is_open:
                c.close()
        problem = cls.broker.stop()
        shutil.rmtree(cls.profile, ignore_errors=True)
        if problem:
            raise AssertionError(problem)

    @classmethod
    def tearDownClass(cls):
        cls.cleanup()
        sys.stderr.write(f"[ConsoleTest: {time.monotonic() - cls.t0:.1f}s (set-up {cls.setup_s:.1f}s); "
                         f"screenshots in {cls.shots}]\n")

    @classmethod
    def connect(cls):
        c = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=cls.broker.port,
                                                              connection_attempts=1, socket_timeout=10))
        cls.conns.append(c)
        return c

    @classmethod
    def make_traffic(cls):
        ch = cls.connect().channel()
        ch.confirm_delivery()
        ch.exchange_declare("console.events", "topic", durable=True)
        for name in ("console.orders", "console.debug", "console.rates", HOSTILE):
            ch.queue_declare(name, durable=True)
        ch.queue_bind("console.orders", "console.events", "order.*")
        for i in range(3):
            ch.basic_publish("console.events", "order.new", f"order {i}".encode())
        # A consumer that holds one message unacknowledged, on a channel of
        # its own, and an idle channel: the totals all differ.
        ch.basic_publish("", HOSTILE, b"one")
        consumer = ch.connection.channel()
        consumer.basic_qos(prefetch_count=5)
        consumer.basic_consume(HOSTILE, lambda *a: None, consumer_tag="console-consumer")
        ch.connection.channel()
        # A lock: one holder, one waiter, each on a connection of its own.
        cls.tokens = []
        holder = cls.connect().channel()
        holder.queue_declare("console.lock", durable=True, arguments={"x-queue-type": "lock"})
        for who, tag in ((holder, "holder"), (cls.connect().channel(), "waiter")):
            who.basic_qos(prefetch_count=1)
            who.basic_consume("console.lock", lambda c, m, p, b: cls.tokens.append(p.headers["x-fencing-token"]),
                              consumer_tag=tag)
        deadline = time.monotonic() + 5
        while not cls.tokens and time.monotonic() < deadline:
            holder.connection.process_data_events(time_limit=0.05)
        assert cls.tokens, "the lock's holder got no grant"
        cls.conns[0].process_data_events(time_limit=0.1)  # the consumer's delivery

    def setUp(self):
        self.step_t0 = time.monotonic()

    def tearDown(self):
        sys.stderr.write(f"  {self._testMethodName}: {time.monotonic() - self.step_t0:.1f}s\n")

    # ------------------------------------------------------------ helpers

    def wait(self, cond, what, timeout=6):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(lambda d: cond())
        except TimeoutException:
            self.shot("failed")
            raise AssertionError(f"timed out waiting for {what}") from None

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(self.shots, f"{name}.png"))

    def find(self, css, root=None):
        return (root or self.driver).find_elements(By.CSS_SELECTOR, css)

    def one(self, css, root=None):
        found = self.find(css, root)
        self.assertEqual(len(found), 1, f"{css}: {len(found)} elements")
        return found[0]

    def drawn(self, page):
        """Has `page` drawn what the API gave it at least once?"""
        main = self.one("#main")
        return main.get_attribute("data-page") == page and int(main.get_attribute("data-updates") or 0) > 0

    def visit(self, hash_, page):
        """Goes to a page and waits until it has drawn what the API gave it."""
        self.driver.get(f"{self.base}/#/{hash_}")
        self.wait(lambda: self.drawn(page), f"page {page}")
        status = self.one("#status").text
        self.assertTrue(status.startswith("Updated"), f"{page}: {status}")

    # A table read in one script: a page redraws its tables every few
    # seconds, and element by element a reading could straddle a redraw.
    TABLE = """return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr')).map(tr => ({
        attrs: Object.assign({}, tr.dataset), cls: tr.className,
        cells: Object.fromEntries(Array.from(tr.querySelectorAll('td[data-col]'),
                                             td => [td.dataset.col, td.textContent]))}));"""

    def rows(self, attrs, scope="main", cls=None):
        """{(data-attr values): {column: text}} of the rows under `scope`
        that have these data- attributes (and this class)."""
        out = {}
        for tr in self.driver.execute_script(self.TABLE, scope):
            key = tuple(tr["attrs"].get(a) for a in attrs)
            if None in key or (cls and tr["cls"] != cls):
                continue
            self.assertNotIn(key, out, f"{key} shown twice")
            out[key] = tr["cells"]
        return out

    def text(self, css):
        return self.driver.execute_script("const e = document.querySelector(arguments[0]); return e && e.textContent",
                                          css)

    def check_listing(self, items, attrs, cols, shown=str):
        """The page's table against the API's listing: a row for each item
        (found by its data- attributes) and nothing else, each column as
        the API has it. {key: cells} for more checks."""
        rows = self.rows(attrs)
        want = {tuple(x[a] for a in attrs): x for x in items}
        self.assertEqual(set(rows), set(want))
        for key, x in want.items():
            for col in cols:
                self.assertEqual(rows[key][col], shown(x[col]), f"{key} {col}")
        return rows

    def login(self, user="guest", password="guest"):
        self.one("#login-user").clear()
        self.one("#login-user").send_keys(user)
        self.one("#login-password").clear()
        self.one("#login-password").send_keys(password)
        self.one("#login-form button").click()

    # -------------------------------------------------------------- steps

    def test_0_login(self):
        self.driver.get(self.base + "/")
        self.wait(lambda: self.one("#login").is_displayed(), "the login form")
        self.assertFalse(self.one("#app").is_displayed())
        self.login(password="wrong")
        self.wait(lambda: self.one("#login-error").text, "the login error")
        self.assertEqual(self.one("#login-error").text, "Login failed")
        self.shot("login-refused")
        self.assertFalse(self.one("#app").is_displayed())
        self.login()
        self.wait(lambda: self.one("#app").is_displayed() and self.drawn("overview"), "the overview after login")
        self.assertEqual(self.one("#who").text, "guest (administrator)")

    def test_1_overview(self):
        self.visit("", "overview")
        o = self.api.get("/api/overview")
        shown = self.driver.execute_script(
            "return Object.fromEntries(Array.from(document.querySelectorAll('.total'), "
            "e => [e.dataset.col, e.querySelector('b').textContent]))")
        want = {k: str(o["object_totals"][k]) for k in ("connections", "channels", "exchanges", "queues", "consumers")}
        want.update({k: str(o["queue_totals"][k]) for k in ("messages", "messages_ready", "messages_unacknowledged")})
        self.assertEqual(shown, want)
        # Live rates: refresh every second, publish between samples, and the
        # chart's publish line must leave its baseline.
        Select(self.one("#refresh")).select_by_value("1")
        ch = self.connect().channel()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for _ in range(20):
                ch.basic_publish("", "console.rates", b"x")
            samples = int(self.one("#rates-chart").get_attribute("data-samples"))
            legend = self.text('.legend li[data-col="publish"]')
            if samples >= 3 and not legend.endswith(" 0.0/s"):
                break
            time.sleep(0.2)
        self.assertGreaterEqual(samples, 3)
        self.assertRegex(legend, r"^Publish: [0-9.]+/s$")
        self.assertNotEqual(legend, "Publish: 0.0/s")
        # Pixels of the publish colour above the chart's baseline.
        lifted = self.driver.execute_script("""
            const c = document.getElementById('rates-chart'), g = c.getContext('2d');
            const d = g.getImageData(0, 0, c.width, c.height).data, base = c.height - 22 * devicePixelRatio;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
              const y = Math.floor(i / 4 / c.width);
              if (y < base - 4 && Math.abs(d[i] - 217) < 30 && Math.abs(d[i+1] - 87) < 30 && Math.abs(d[i+2] - 43) < 30) n++;
            }
            return n;""")
        self.assertGreater(lifted, 20, "the publish line never leaves zero")
        Select(self.one("#refresh")).select_by_value("5")
        self.shot("overview")

    def test_2_queues(self):
        self.visit("queues", "queues")
        rows = self.check_listing(self.api.get("/api/queues"), ["vhost", "name"],
                                  ["name", "type", "messages_ready", "messages_unacknowledged", "messages", "consumers"])
        self.assertEqual(rows[("/", "console.orders")]["messages"], "3")
        self.assertEqual(rows[("/", HOSTILE)]["name"], HOSTILE)
        self.assertEqual(rows[("/", HOSTILE)]["messages_unacknowledged"], "1")
        self.assertEqual(self.find("main img"), [], "a queue's name became markup")
        # The filter asks the API for matching names only.
        self.one("#queue-filter").send_keys("orders")
        self.wait(lambda: set(self.rows(["vhost", "name"])) == {("/", "console.orders")}, "the filtered list")
        self.assertEqual(self.text(".pager"), "‹ page 1 of 1, 1 queue ›")
        self.shot("queues")

    def test_3_queue_publish_and_get(self):
        self.visit(f"queues/{q('/')}/{q('console.debug')}", "queue")
        self.assertEqual(self.text('dd[data-col="messages"]'), "0")
        form = self.one("form.publish")
        self.one('textarea[name="payload"]', form).send_keys("from the console <b>")
        self.one("button", form).click()
        self.wait(lambda: self.one(".result", form).text, "the publish result")
        self.assertEqual(self.one(".result", form).text, "Message published.")
        self.assertEqual(self.api.get(f"/api/queues/{q('/')}/console.debug")["messages"], 1)
        get = self.one("form.get")
        Select(self.one('select[name="ackmode"]', get)).select_by_value("ack_requeue_false")
        self.one("button", get).click()
        self.wait(lambda: self.find(".message .payload", get), "the message got")
        self.assertEqual(self.one(".message .payload", get).text, "from the console <b>")
        self.assertEqual(self.find("main b"), [], "a payload became markup")
        self.assertEqual(self.api.get(f"/api/queues/{q('/')}/console.debug")["messages"], 0)
        self.shot("queue")

    def test_4_exchanges(self):
        self.visit("exchanges", "exchanges")
        rows = self.check_listing(self.api.get("/api/exchanges"), ["vhost", "name"], ["type"])
        for (_, name), cells in rows.items():
            self.assertEqual(cells["name"], name or "(AMQP default)")
        self.shot("exchanges")
        self.visit(f"exchanges/{q('/')}/console.events", "exchange")
        b = self.rows(["source", "destination", "key"])
        self.assertEqual(set(b), {("console.events", "console.orders", "order.*")})
        self.shot("exchange")

    def test_5_connections_and_channels(self):
        self.visit("connections", "connections")
        rows = self.check_listing(self.api.get("/api/connections"), ["vhost", "name"],
                                  ["user", "protocol", "state", "channels"])
        self.assertEqual(len(rows), len(self.conns))
        self.shot("connections")
        self.visit("channels", "channels")
        self.check_listing(self.api.get("/api/channels"), ["vhost", "name"],
                           ["user", "prefetch_count", "consumer_count", "messages_unacknowledged",
                            "messages_unconfirmed"])
        self.shot("channels")

    def test_6_locks(self):
        self.visit("locks", "locks")
        locks = self.api.get("/api/locks")
        self.assertEqual([(x["vhost"], x["name"]) for x in locks], [("/", "console.lock")])
        lock = locks[0]
        self.assertEqual([h["consumer_tag"] for h in lock["holders"]], ["holder"])
        self.assertEqual([w["consumer_tag"] for w in lock["waiters"]], ["waiter"])
        self.assertEqual(lock["holders"][0]["token"], self.tokens[0])
        self.assertEqual(lock["last_token"], self.tokens[0])
        self.assertEqual(self.api.get(f"/api/locks/{q('/')}"), locks)
        self.assertEqual(self.api.call("GET", "/api/locks/nowhere")[0], 404)
        section = 'section.lock[data-vhost="/"][data-name="console.lock"]'
        self.assertEqual(self.text(f'{section} [data-col="kind"]'), "mutex")
        self.assertEqual(self.text(f'{section} [data-col="last_token"]'), str(self.tokens[0]))
        for cls_, parties in (("holder", lock["holders"]), ("waiter", lock["waiters"])):
            trs = [tr["cells"] for tr in self.driver.execute_script(self.TABLE, section) if tr["cls"] == cls_]
            self.assertEqual(len(trs), len(parties))
            for cells, p in zip(trs, parties):
                for col in ("connection", "channel", "consumer_tag", "user", "mode"):
                    self.assertEqual(cells[col], str(p[col]), f"{cls_} {col}")
                self.assertEqual(cells["token"], "" if p["token"] is None else str(p["token"]))
        self.shot("locks")

    def test_7_users_and_vhosts(self):
        self.api.put("/api/users/console-watcher", {"password": "pw", "tags": "monitoring"})
        self.visit("users", "users")
        self.check_listing(self.api.get("/api/users"), ["name"], ["tags"], shown=", ".join)
        self.check_listing(self.api.get("/api/permissions"), ["user", "vhost"], ["configure", "write", "read"])
        self.shot("users")
        self.visit("vhosts", "vhosts")
        self.check_listing(self.api.get("/api/vhosts"), ["name"],
                           ["messages_ready", "messages_unacknowledged", "messages"])
        self.shot("vhosts")

    def test_8_logout(self):
        self.one("#logout").click()
        self.wait(lambda: self.one("#login").is_displayed(), "the login form after logging out")
        self.assertIsNone(self.driver.execute_script("return sessionStorage.getItem('warren.credentials')"))
        self.driver.get(self.base + "/#/queues")
        self.driver.refresh()
        self.wait(lambda: self.one("#login").is_displayed(), "the login form for a page after logging out")
        self.assertFalse(self.one("#app").is_displayed())

    def test_9_refused_mid_session(self):
        # A user deleted while its console is open: the next refresh is
        # refused, and the console goes back to the login form.
        self.assertEqual(self.api.put("/api/users/console-temp", {"password": "pw", "tags": "management"}), 201)
        self.assertEqual(self.api.put(f"/api/permissions/{q('/')}/console-temp",
                                      {"configure": ".*", "write": ".*", "read": ".*"}), 201)
        self.login("console-temp", "pw")
        self.wait(lambda: self.one("#app").is_displayed(), "the console as console-temp")
        self.visit("", "overview")
        self.assertEqual(self.one("#who").text, "console-temp (management)")
        # A management user sees the lock held and waited for, but not by whom
        # (guest's connections), as it sees only its own connections.
        [lock] = Api(self.broker.mgmt_port, "console-temp", "pw").get("/api/locks")
        self.assertEqual([(h["connection"], h["consumer_tag"], h["token"]) for h in lock["holders"]],
                         [(None, None, self.tokens[0])])
        self.assertEqual([w["connection"] for w in lock["waiters"]], [None])
        Select(self.one("#refresh")).select_by_value("1")
        self.assertEqual(self.api.delete("/api/users/console-temp"), 204)
        self.wait(lambda: self.one("#login").is_displayed(), "the login form once the user is gone")
        self.assertEqual(self.one("#login-error").text, "Login failed")
        self.shot("refused-mid-session")


if __name__ == "__main__":
    unittest.main()
