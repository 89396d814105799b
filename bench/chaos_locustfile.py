"""The shoppers of bench/chaos.py, driven by locust headless (bench/.venv, requirements-bench.txt).

Every request is appended to the CSV file named by CHAOS_LOG (unix time, name, status, ms,
failure), so that the harness can cut a run into phases (before, during and after a fault).
The pages to visit come from the JSON file named by CHAOS_PATHS, written by the harness:
{"browse": [...], "searches": [...], "variants": [...], "accounts": [...], "password": "..."}.

    SignedInShopper  browse and cart while signed in, checking they are still signed in
    MixedShopper     guests: browse 80 %, search 10 %, cart 7 %, checkout 3 %
"""

import csv
import json
import os
import random
import re
import time
from pathlib import Path

from locust import HttpUser, events, task

PATHS = json.loads(Path(os.environ["CHAOS_PATHS"]).read_text())
#: Open for the whole run (closed when locust quits); a line is written as each request ends.
LOG = open(os.environ["CHAOS_LOG"], "a", newline="", buffering=1)  # noqa: SIM115
WRITER = csv.writer(LOG)
ACCOUNTS = iter(PATHS.get("accounts", []))
CHECKOUT = {
    "email": "chaos@example.com",
    "ship-full_name": "Chaos Shopper",
    "ship-phone": "+442079460958",
    "ship-line1": "1 Load Street",
    "ship-city": "London",
    "ship-postcode": "SW1A 1AA",
    "ship-country": "GB",
    "payment_method": "manual",
}


@events.request.add_listener
def record(name, response_time, response=None, exception=None, **_kwargs):
    status = getattr(response, "status_code", 0) or 0
    WRITER.writerow([f"{time.time():.3f}", name, status, f"{response_time:.1f}", exception or ""])


@events.quitting.add_listener
def close_log(**_kwargs):
    LOG.close()


class Shopper(HttpUser):
    abstract = True

    def get(self, path: str, name: str, **kwargs):
        """A page that must answer 2xx (after redirects): anything else is a failure."""
        with self.client.get(path, name=name, catch_response=True, **kwargs) as response:
            if not 200 <= response.status_code < 300:
                response.failure(f"HTTP {response.status_code}")
            return response

    def post(self, path: str, data: dict, name: str):
        token = self.client.cookies.get("csrftoken", "")
        with self.client.post(
            path, data={**data, "csrfmiddlewaretoken": token}, name=name, catch_response=True
        ) as response:
            if not 200 <= response.status_code < 300:
                response.failure(f"HTTP {response.status_code}")
            return response

    def browse(self):
        self.get(random.choice(PATHS["browse"]), name="browse")  # noqa: S311 - load pattern

    def add_to_cart(self):
        if not self.client.cookies.get("csrftoken"):
            self.browse()  # a page with a form sets the CSRF cookie
        variant = random.choice(PATHS["variants"])  # noqa: S311
        self.post("/cart/add/", {"variant": variant, "quantity": 1}, name="cart: add")
        self.get("/cart/", name="cart")


class SignedInShopper(Shopper):
    """Signed in at start (one account each); browse 6 : cart 2 : account page 1."""

    def on_start(self):
        self.get("/accounts/login/", name="sign in page")
        account = next(ACCOUNTS)
        response = self.post(
            "/accounts/login/",
            {"username": account, "password": PATHS["password"]},
            name="sign in",
        )
        if "/accounts/login/" in response.url:
            raise RuntimeError(f"{account} could not sign in")

    @task(6)
    def browse_pages(self):
        self.browse()

    @task(2)
    def cart(self):
        self.add_to_cart()

    @task(1)
    def still_signed_in(self):
        """The profile page: a redirect to the sign-in page means the session was lost."""
        with self.client.get(
            "/account/", name="account (signed in?)", allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"signed out: HTTP {response.status_code}")


class MixedShopper(Shopper):
    """A guest: browse 80 %, search 10 %, cart 7 %, checkout 3 % (the issue's mix)."""

    @task(80)
    def browse_pages(self):
        self.browse()

    @task(10)
    def search(self):
        query = random.choice(PATHS["searches"])  # noqa: S311
        self.get("/search/", name="search", params={"q": query})

    @task(7)
    def cart(self):
        self.add_to_cart()

    @task(3)
    def checkout(self):
        """The whole guest checkout; a sold-out variant ends it at the cart (not a failure)."""
        self.add_to_cart()
        page = self.get("/checkout/", name="checkout")
        method = re.search(r'name="shipping_method" value="(\d+)"', page.text or "")
        if not method:
            return  # nothing left to buy in this cart: the cart page said so
        self.post(
            "/checkout/", {**CHECKOUT, "shipping_method": method.group(1)}, "checkout: details"
        )
        review = self.get("/checkout/review/", name="checkout: review")
        key = re.search(r'name="idempotency_key" value="([^"]+)"', review.text or "")
        fingerprint = re.search(r'name="fingerprint" value="([^"]+)"', review.text or "")
        if key and fingerprint:
            self.post(
                "/checkout/place/",
                {"idempotency_key": key.group(1), "fingerprint": fingerprint.group(1)},
                name="checkout: place",
            )
        self.client.cookies.clear()  # the next checkout is a new guest with a new cart
