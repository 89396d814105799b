"""The whole purchase under load: N concurrent guests each add a product to a new cart, fill
in checkout, review and place the order (bank transfer), again and again for a bounded time.

Stdlib only (http.client + threads), against the gunicorn server bench/run.py starts. Every
purchase is a new guest with a new session, as a real checkout is; a purchase counts when
placing the order answers with a redirect to the order or to its payment.

    python bench/purchase.py --port 8765 --seconds 20 --shoppers 8   # against a running server
"""

import argparse
import http.client
import http.cookies
import random
import re
import statistics
import threading
import time
import urllib.parse

ADDRESS = {
    "email": "bench@example.com",
    "ship-full_name": "Bench Shopper",
    "ship-phone": "+442079460958",
    "ship-line1": "1 Load Street",
    "ship-city": "London",
    "ship-postcode": "SW1A 1AA",
    "ship-country": "GB",
    "payment_method": "manual",
}


class Guest:
    """A browser's session by hand: cookies (sent back even though marked Secure: the bench
    talks plain HTTP to loopback) and the CSRF token of the last page."""

    def __init__(self, port: int, timeout: float = 30):
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.last_location = ""
        #: Why the last purchase failed (the step and what it answered), for the report.
        self.failure = ""
        #: Requests answered so far.
        self.steps = 0

    def request(self, method: str, path: str, data: dict | None = None) -> tuple[int, str, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers, body = self.outgoing(path, data)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        html = response.read().decode()
        connection.close()
        cookies = response.headers.get_all("Set-Cookie") or []
        return self.answered(response.status, response.headers.get("Location", ""), cookies, html)

    def outgoing(self, path: str, data: dict | None) -> tuple[dict[str, str], bytes | None]:
        """The headers and body of a request: the cookies, and a form with the CSRF token."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if data is not None:
            body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.token}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        return headers, body

    def answered(
        self, status: int, location: str, cookies: list[str], html: str
    ) -> tuple[int, str, str]:
        """Keep what the answer sets (cookies, the page's CSRF token); what request() returns."""
        for header in cookies:
            for name, morsel in http.cookies.SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        if match := re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html):
            self.token = match.group(1)
        self.last_location = location
        self.steps += 1
        return status, location, html


def product_paths(port: int, count: int = 60) -> list[str]:
    """Product pages to buy from, read off the catalog's listing."""
    paths: list[str] = []
    page = 1
    while len(paths) < count and page < 20:
        _status, _location, html = Guest(port).request("GET", f"/products/?page={page}")
        found = re.findall(r'href="(/p/[^"/]+/)"', html)
        if not found:
            break
        paths += [path for path in dict.fromkeys(found) if path not in paths]
        page += 1
    return paths[:count]


def prepare_order(
    guest: Guest, product_path: str, *, payment_method: str = "manual", variant: str = ""
) -> dict | bool | None:
    """Everything up to the review page: product page, add to cart (`variant`, or the first
    in stock), checkout, details. The review form's fields that place the order; False: a step
    failed; None: sold out, nothing to buy."""
    _status, _location, html = guest.request("GET", product_path)
    if not variant:
        in_stock = re.findall(
            r'name="variant" id="[^"]+" value="(\d+)"\s[^>]*data-stock-level="(in|low)"', html
        )
        sole = re.search(r'type="hidden" name="variant" value="(\d+)"', html)
        variant = in_stock[0][0] if in_stock else sole.group(1) if sole else ""
    if not variant:
        return None
    status, location, _html = guest.request(
        "POST", "/cart/add/", {"variant": variant, "quantity": 1}
    )
    if status >= 400:
        return _failed(guest, "add to cart", status, location)
    status, location, html = guest.request("GET", "/checkout/")
    if status == 302 and location.endswith("/cart/"):
        return None  # sold out meanwhile: the cart has nothing to buy
    method = re.search(r'name="shipping_method" value="(\d+)"', html)
    if not method:
        return _failed(guest, "checkout page", status, location)
    status, location, _html = guest.request(
        "POST",
        "/checkout/",
        {**ADDRESS, "payment_method": payment_method, "shipping_method": method.group(1)},
    )
    if status != 302:
        return _failed(guest, "details posted", status, location)
    status, location, html = guest.request("GET", "/checkout/review/")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    fingerprint = re.search(r'name="fingerprint" value="([^"]+)"', html)
    if not key or not fingerprint:
        return _failed(guest, "review page", status, location)
    return {"idempotency_key": key.group(1), "fingerprint": fingerprint.group(1)}


def _failed(guest: Guest, step: str, status: int, location: str) -> bool:
    guest.failure = f"{step}: {status}" + (
        f" to {urllib.parse.urlsplit(location).path}" if location else ""
    )
    return False


def placed(status: int, location: str) -> bool:
    """Placing answered with the way to the order or to its payment."""
    return status == 302 and ("/orders/" in location or "/payments/" in location)


def purchase(guest: Guest, product_path: str, *, payment_method: str = "manual") -> bool | None:
    """True: an order was placed; False: a step failed; None: sold out, nothing to buy.
    `guest` is new (bench/profile.py hands in one that asks the test client);
    `guest.last_location` is then where placing the order led (the order or its payment)."""
    fields = prepare_order(guest, product_path, payment_method=payment_method)
    if not isinstance(fields, dict):
        return fields
    status, location, _html = guest.request("POST", "/checkout/place/", fields)
    if placed(status, location):
        return True
    return _failed(guest, "place order", status, location)


def measure(*, port: int, seconds: int, shoppers: int) -> dict:
    paths = product_paths(port)
    if not paths:
        raise SystemExit("no products to buy: seed the demo catalog first")
    purchase(Guest(port), paths[0])  # warm-up: connections, caches
    latencies: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def shopper(index: int) -> None:
        rng = random.Random(index)  # noqa: S311 - load pattern, not a secret
        while time.monotonic() < deadline:
            started = time.monotonic()
            guest = Guest(port)
            try:
                ok = purchase(guest, rng.choice(paths))
            except OSError as error:
                ok, guest.failure = False, f"step {guest.steps + 1}: {type(error).__name__}"
            with lock:
                if ok:
                    latencies.append(time.monotonic() - started)
                elif ok is False:
                    failures[guest.failure] = failures.get(guest.failure, 0) + 1

    threads = [threading.Thread(target=shopper, args=(i,)) for i in range(shoppers)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return {
        "orders": len(latencies),
        "failures": sum(failures.values()),
        "failure_reasons": failures,
        "seconds": elapsed,
        "shoppers": shoppers,
        "orders_per_second": len(latencies) / elapsed,
        "p50": statistics.median(ordered) * 1000 if ordered else 0.0,
        "p99": pct(0.99),
    }


def render(result: dict, *, heading: str = "##") -> str:
    return "\n".join(
        [
            f"{heading} The whole purchase",
            "",
            f"{result['shoppers']} concurrent guests, each purchase = product page, add to "
            "cart, checkout page, details posted, review page, place order (6 requests, bank "
            f"transfer), for {result['seconds']:.0f} s.",
            "",
            "| orders/s | p50 ms | p99 ms | orders | failed |",
            "| ---: | ---: | ---: | ---: | ---: |",
            f"| {result['orders_per_second']:.1f} | {result['p50']:.0f} | {result['p99']:.0f} "
            f"| {result['orders']} | {result['failures']} |",
            "",
            *(
                [
                    "Failed purchases, by the step that failed and its answer: "
                    + "; ".join(
                        f"{reason} ({count})"
                        for reason, count in sorted(result["failure_reasons"].items())
                    )
                    + ".",
                    "",
                ]
                if result.get("failure_reasons")
                else []
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--shoppers", type=int, default=8)
    args = parser.parse_args()
    print(render(measure(port=args.port, seconds=args.seconds, shoppers=args.shoppers)))


if __name__ == "__main__":
    main()
