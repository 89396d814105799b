"""`make deploy-test`: the shop as deploy/ runs it, checked end to end over HTTPS on loopback.

Debian's nginx with deploy/nginx's site (bench/stack.py) in front of two gunicorn instances
and one Celery worker, on PostgreSQL (a fresh database beside DATABASE_URL's, dropped at
the end) and Redis (REDIS_URL). It checks what nginx promises (HTTPS redirect, static files
cached for a year and gzipped, pictures served from disk, 413 for an oversized body, the
client's address for the shop's throttles), walks a shopper's whole journey (home, category,
product, cart, checkout, bank transfer, the order page), SIGKILLs one gunicorn instance in
the middle of a run of shopper requests and checks that none sent after it failed, walks
the journey again on the surviving instance, and checks that the worker mailed both orders.
Exit status 1 with the reason and the servers' logs on any failure; everything started is
stopped either way.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop REDIS_URL=redis://127.0.0.1:6379/0 \
        python bench/deploy_test.py
"""

import argparse
import email
import email.policy
import gzip
import http.client
import http.cookies
import itertools
import re
import ssl
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import purchase  # bench/purchase.py: the checkout form a guest fills in
import stack as deployment  # bench/stack.py

#: The shoppers' own address: not nginx's (127.0.0.1, the shop's TRUSTED_PROXIES), so that
#: the client address the shop works out can be told apart from the proxy's.
SHOPPER_ADDRESS = "127.0.0.2"
#: Shopper requests in the run during which one instance is killed, the kill coming after
#: the first third: enough on either side to see both instances serve and then one.
RUN_REQUESTS = 240
RUN_THREADS = 8
RUN_SECONDS = 120


class Failure(Exception):
    """A check failed; the message says which and what was seen."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


class Browser:
    """One shopper's browser over HTTPS through nginx: cookies, the CSRF token, gzip.

    A new connection per request, so nothing hides a failed one behind a reconnect.
    """

    def __init__(self, port: int, certificate: str, *, forwarded_for: str = ""):
        self.port = port
        self.context = ssl.create_default_context(cafile=certificate)
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.forwarded_for = forwarded_for

    def request(
        self, method: str, path: str, data: dict | None = None, headers: dict | None = None
    ) -> tuple[int, http.client.HTTPMessage, str]:
        connection = http.client.HTTPSConnection(
            "127.0.0.1",
            self.port,
            context=self.context,
            timeout=30,
            source_address=(SHOPPER_ADDRESS, 0),
        )
        sent = {
            "Host": deployment.SHOP_HOST,
            "Accept-Encoding": "gzip",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **(headers or {}),
        }
        if self.forwarded_for:
            sent["X-Forwarded-For"] = self.forwarded_for
        body = None
        if data is not None:
            body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.token}).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent["Origin"] = f"https://{deployment.SHOP_HOST}"
            sent["Referer"] = f"https://{deployment.SHOP_HOST}{path}"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        if response.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        text = raw.decode(errors="replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in http.cookies.SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        if match := re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text):
            self.token = match.group(1)
        return response.status, response.headers, text

    def page(self, path: str) -> str:
        status, _headers, html = self.request("GET", path)
        check(status == 200, f"GET {path} answered {status}, not 200")
        return html

    def follow(self, location: str, hops: int = 5) -> tuple[str, str]:
        """GET redirects from `location` (at most `hops`) to a page: its path and HTML."""
        for _hop in range(hops):
            path = urllib.parse.urlsplit(location)._replace(scheme="", netloc="").geturl()
            status, headers, html = self.request("GET", path)
            if status != 302:
                check(status == 200, f"GET {path} answered {status}")
                return path, html
            location = headers["Location"]
        raise Failure(f"more than {hops} redirects from {location}")

    def post(self, path: str, data: dict, *, expect_redirect: bool = True) -> str:
        status, headers, html = self.request("POST", path, data)
        if expect_redirect:
            check(status == 302, f"POST {path} answered {status}, not a redirect: {_gist(html)}")
            return headers["Location"]
        check(status == 200, f"POST {path} answered {status}")
        return html


def _gist(html: str) -> str:
    errors = re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]{1,200})', html)
    return "; ".join(e.strip() for e in errors[:3]) or html[:200]


# --- what nginx promises -------------------------------------------------------------------
def check_nginx(stack: deployment.Stack, browser: Browser) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=10)
    connection.request("GET", "/products/?page=2", headers={"Host": deployment.SHOP_HOST})
    response = connection.getresponse()
    location = response.getheader("Location", "")
    connection.close()
    check(
        response.status == 301 and location == f"https://{deployment.SHOP_HOST}/products/?page=2",
        f"plain HTTP should redirect to HTTPS, got {response.status} {location!r}",
    )
    print("ok  plain HTTP is redirected to HTTPS", flush=True)

    status, headers, html = browser.request("GET", "/")
    check(status == 200, f"the home page answered {status}")
    check(headers.get("Content-Encoding") == "gzip", "the home page was not gzipped by nginx")
    stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', html)
    check(stylesheet is not None, "no content-hashed stylesheet on the home page")
    status, headers, _css = browser.request("GET", stylesheet.group(1))
    check(status == 200, f"{stylesheet.group(1)} answered {status}")
    # nginx's own value (whitenoise, behind it, would say "max-age=315360000, public, ...").
    cache_control = headers.get("Cache-Control")
    check(
        cache_control == "public, max-age=31536000, immutable",
        f"a hashed static file should be cached for a year by nginx, got {cache_control!r}",
    )
    check(headers.get("Content-Encoding") == "gzip", "the stylesheet was not sent gzipped")
    print("ok  pages gzipped; hashed static files from disk, gzipped, cached a year", flush=True)

    status, headers, body = browser.request("GET", "/healthz")
    check(status == 200 and '"database": "ok"' in body, f"/healthz: {status} {body[:100]}")
    print("ok  /healthz through nginx", flush=True)

    connection = http.client.HTTPSConnection(
        "127.0.0.1", stack.https_port, context=browser.context, timeout=10
    )
    connection.putrequest("POST", "/cart/add/", skip_host=True)
    connection.putheader("Host", deployment.SHOP_HOST)
    connection.putheader("Content-Length", str(30 * 2**20))
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    check(status == 413, f"a 30 MB body should be refused by nginx with 413, got {status}")
    print("ok  a 30 MB request body is refused (413) before it reaches gunicorn", flush=True)


def check_client_address(stack: deployment.Stack) -> None:
    """A forged X-Forwarded-For does not name the shopper: the shop counts the address nginx
    saw (its throttles' key), which nginx appends and the shop trusts from nginx only."""
    forger = Browser(stack.https_port, str(stack.certificate), forwarded_for="203.0.113.9")
    forger.page("/accounts/login/")
    forger.post(
        "/accounts/login/",
        {"username": "nobody@example.com", "password": "not-the-password"},
        expect_redirect=False,
    )
    connection = psycopg2.connect(stack.database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT ip_address FROM axes_accessattempt WHERE username = %s",
                ["nobody@example.com"],
            )
            addresses = [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()
    check(
        addresses == [SHOPPER_ADDRESS],
        f"the failed sign-in should count against {SHOPPER_ADDRESS}, got {addresses}",
    )
    print(f"ok  a failed sign-in counts against the shopper's {SHOPPER_ADDRESS}", flush=True)


# --- the shopper ---------------------------------------------------------------------------
def journey(stack: deployment.Stack, *, shopper: str) -> str:
    """Home, a category, the listing, a product and its picture, the cart, checkout with a
    bank transfer, the order's page. Returns the order's number."""
    browser = Browser(stack.https_port, str(stack.certificate))
    home = browser.page("/")
    category = re.search(r'href="(/c/[^"/]+/)"', home)
    check(category is not None, "no category link on the home page")
    browser.page(category.group(1))
    listing = browser.page("/products/")
    products = list(dict.fromkeys(re.findall(r'href="(/p/[^"/]+/)"', listing)))
    check(bool(products), "no product on /products/")
    variant = None
    for path in products:
        html = browser.page(path)
        in_stock = re.findall(
            r'name="variant" id="[^"]+" value="(\d+)"\s[^>]*data-stock-level="(?:in|low)"', html
        )
        sole = re.search(r'type="hidden" name="variant" value="(\d+)"', html)
        variant = in_stock[0] if in_stock else (sole.group(1) if sole else None)
        if variant:
            break
    check(variant is not None, "no product in stock to buy")
    picture = re.search(r'src="(/media/[^"]+)"', html)
    check(picture is not None, f"no picture on {path}")
    status, headers, _ = browser.request("GET", picture.group(1))
    check(
        status == 200 and headers.get("Cache-Control") == "public, max-age=604800",
        f"{picture.group(1)} should come from nginx's /media/: {status} "
        f"{headers.get('Cache-Control')!r}",
    )

    browser.post("/cart/add/", {"variant": variant, "quantity": 1, "next": "/cart/"})
    cart = browser.page("/cart/")
    check(path in cart, "the product is not in the cart")
    checkout = browser.page("/checkout/")
    method = re.search(r'name="shipping_method" value="(\d+)"', checkout)
    check(method is not None, "no shipping method at checkout")
    browser.post(
        "/checkout/",
        {**purchase.ADDRESS, "email": shopper, "shipping_method": method.group(1)},
    )
    review = browser.page("/checkout/review/")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review)
    fingerprint = re.search(r'name="fingerprint" value="([^"]+)"', review)
    check(key is not None and fingerprint is not None, "the review page has no place button")
    placed = browser.post(
        "/checkout/place/",
        {"idempotency_key": key.group(1), "fingerprint": fingerprint.group(1)},
    )
    landed, page = browser.follow(placed)
    check("by bank transfer" in page, f"{landed} does not say how to pay by bank transfer")
    # The guest's signed link to the order, as the checkout handed it out.
    placed_at = urllib.parse.urlsplit(placed)
    number = re.search(r"/payments/pay/([^/]+)/", placed_at.path)
    check(number is not None, f"placing the order went to {placed}, not to its payment")
    order_page = browser.page(f"/orders/{number.group(1)}/?{placed_at.query}")
    check(number.group(1) in order_page, "the order's page does not show its number")
    return number.group(1)


def shopper_paths(stack: deployment.Stack) -> list[str]:
    """What browsing shoppers ask for: home, listings (pages, sorts, filters), products,
    search, a cart. Only GETs: nginx retries those on the other instance, and a POST only
    if it never reached the dead one (a shopper's POST cut off mid-way is the browser's to
    resend; the shop's checkout carries an idempotency key for that)."""
    browser = Browser(stack.https_port, str(stack.certificate))
    listing = browser.page("/products/")
    products = list(dict.fromkeys(re.findall(r'href="(/p/[^"/]+/)"', listing)))[:12]
    categories = list(dict.fromkeys(re.findall(r'href="(/c/[^"/]+/)"', browser.page("/"))))[:4]
    return [
        "/",
        "/products/",
        "/products/?page=2",
        "/products/?sort=price",
        "/search/?q=shirt",
        "/cart/",
        "/zh-hans/",
        *categories,
        *products,
    ]


def run_with_a_kill(stack: deployment.Stack, victim: int) -> dict:
    """RUN_REQUESTS GETs from RUN_THREADS shoppers; `victim` is SIGKILLed after a third.

    nginx sends a request on to the other instance when the victim refuses or drops it
    before answering, so every request sent after the kill must be answered 200. A page
    the victim was already sending when it died cannot be retried by any proxy (part of it
    is with the shopper); such cut-off pages are allowed only for requests sent before the
    kill, and no more of them than the victim had workers.
    """
    paths = shopper_paths(stack)
    log_start = len(stack.access_log())
    done = itertools.count(1)
    third = threading.Event()
    killed = threading.Event()
    results: list[tuple[str, int | str, bool]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + RUN_SECONDS

    def one(index: int) -> None:
        path = paths[index % len(paths)]
        sent_after_kill = killed.is_set()
        if time.monotonic() > deadline:
            outcome: int | str = "not sent: the run's time was up"
        else:
            try:
                outcome = Browser(stack.https_port, str(stack.certificate)).request("GET", path)[0]
            except http.client.IncompleteRead as error:
                outcome = f"cut off: {error!r}"
            except (OSError, http.client.HTTPException) as error:
                outcome = f"{type(error).__name__}: {error}"
        with lock:
            results.append((path, outcome, sent_after_kill))
        if next(done) == RUN_REQUESTS // 3:
            third.set()

    with ThreadPoolExecutor(RUN_THREADS) as pool:
        futures = [pool.submit(one, i) for i in range(RUN_REQUESTS)]
        check(third.wait(RUN_SECONDS), "the run did not get a third of the way")
        stack.kill_app(victim)
        killed.set()
        killed_after = len(results)
        for future in futures:
            future.result(timeout=max(1, deadline - time.monotonic()) + 30)

    cut_off = [
        (path, outcome)
        for path, outcome, after in results
        if not after and str(outcome).startswith("cut off")
    ]
    failed = [
        (path, outcome)
        for path, outcome, _after in results
        if outcome != 200 and (path, outcome) not in cut_off
    ]
    check(
        not failed,
        f"{len(failed)} of {len(results)} shopper requests failed after the kill: {failed[:5]}",
    )
    check(
        len(cut_off) <= stack.web_workers,
        f"{len(cut_off)} pages cut off, more than the victim's {stack.web_workers} workers "
        f"could have been sending: {cut_off[:5]}",
    )
    lines = stack.access_log()[log_start:]
    served = {port: sum(f"127.0.0.1:{port}" in line for line in lines) for port in stack.app_ports}
    retried = [line for line in lines if "upstream=" in line and ", " in line.split("upstream=")[1]]
    check(all(served.values()), f"both instances should have served the run: {served}")
    return {
        "requests": len(results),
        "killed_after": killed_after,
        "cut_off": len(cut_off),
        "served": served,
        "retried": len(retried),
    }


# --- the worker's mail ---------------------------------------------------------------------
def wait_for_mails(stack: deployment.Stack, orders: dict[str, str], seconds: int = 60) -> None:
    """Each order's confirmation, to its shopper, in the files of the worker's mail backend."""
    deadline = time.monotonic() + seconds
    missing = dict(orders)
    while missing and time.monotonic() < deadline:
        for message in _mails(stack):
            subject_and_body = str(message["Subject"]) + message.get_body().get_content()
            for number, shopper in list(missing.items()):
                if shopper in str(message["To"]) and number in subject_and_body:
                    del missing[number]
        if missing:
            time.sleep(0.5)
    check(not missing, f"no mail from the worker for orders {sorted(missing)} in {seconds} s")


def _mails(stack: deployment.Stack):
    separator = "\n" + "-" * 79 + "\n"
    for path in stack.mail_dir.glob("*.log"):
        for chunk in path.read_text(errors="replace").split(separator):
            if chunk.strip():
                yield email.message_from_string(chunk.strip() + "\n", policy=email.policy.default)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    deployment.add_arguments(parser, first_port=8120, web_workers=2)
    parser.add_argument("--products", type=int, default=60, help="demo catalog size")
    args = parser.parse_args()
    started = time.monotonic()
    try:
        stack = deployment.stack_from(args, database_suffix="_deploy_test")
    except deployment.StackError as error:
        print(f"deploy-test: {error}", file=sys.stderr)
        return 2
    with stack:
        try:
            stack.prepare(products=args.products)
            stack.start()
            print(f"up: nginx on {args.https_port}, gunicorn on {args.app_ports}", flush=True)
            check_nginx(stack, Browser(args.https_port, str(stack.certificate)))
            check_client_address(stack)
            orders = {journey(stack, shopper="first@example.com"): "first@example.com"}
            print(f"ok  a shopper's whole journey through nginx: order {next(iter(orders))}")
            victim, survivor = args.app_ports
            run = run_with_a_kill(stack, victim)
            print(
                f"ok  gunicorn on {victim} SIGKILLed after {run['killed_after']} of "
                f"{run['requests']} shopper requests: none failed after the kill "
                f"({run['retried']} retried on the other instance by nginx, "
                f"{run['cut_off']} cut off mid-page by the kill; "
                f"served by port: {run['served']})",
                flush=True,
            )
            second = journey(stack, shopper="second@example.com")
            orders[second] = "second@example.com"
            print(f"ok  the whole journey again with {survivor} alone: order {second}")
            wait_for_mails(stack, orders)
            print(f"ok  the Celery worker mailed both orders ({', '.join(orders)})")
        except (Failure, deployment.StackError) as error:
            print(f"\nFAILED: {error}\n\n{stack.logs()}", file=sys.stderr)
            return 1
    print(f"deploy-test passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
