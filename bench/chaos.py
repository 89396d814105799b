"""Fault runs: the shop under real faults on this machine, written to bench/results/reliability.md.

One stack of its own, on its own ports and in a temporary folder: a PostgreSQL cluster
(Debian's initdb/pg_ctl, run as the `postgres` user when started as root), a Redis server,
gunicorn (DEBUG off) and, when a run needs one, a Celery worker and an SMTP sink. Load comes
from locust headless (bench/.venv, requirements-bench.txt) and from plain HTTP clients for the
flows that need a barrier. Runs, in order (`--only NAME` picks some):

    redis     Redis SIGKILLed during browse + cart load by signed-in shoppers
    postgres  PostgreSQL restarted during 100 checkouts and 100 signed payment callbacks
    worker    a Celery worker SIGKILLed while its order mail is being sent
    buyers    200 concurrent buyers for 10 units, then the same against an unlocked control
    mixed     browse 80 % / search 10 % / cart 7 % / checkout 3 % for 10 minutes, at the
              number of users a short probe found to give the most requests/s

Every wait is bounded; everything started is killed at the end, also on failure or Ctrl-C.
Exit status 1 when a run's check failed.

    make chaos
    make chaos CHAOS_ARGS="--only redis,buyers"
    make chaos CHAOS_ARGS="--only mixed --mixed-probe 4,8 --mixed-seconds 120"
"""

import argparse
import concurrent.futures
import contextlib
import csv
import datetime
import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from pathlib import Path

import purchase  # bench/purchase.py: a guest's session by hand (Guest), the purchase steps

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "bench" / "results"
SHOP_BIN = BASE_DIR / ".venv" / "bin"
LOCUST = Path(sys.executable).with_name("locust")
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
SANDBOX_SECRET = "chaos-sandbox-secret"  # noqa: S105 - the runs' own throwaway stack
PASSWORD = "chaos-Pa55word!"  # noqa: S105 - accounts of the throwaway database
#: Seconds a killed worker's unacknowledged task waits before the broker hands it out again
#: (CELERY_VISIBILITY_TIMEOUT); short here so the run need not wait the production default.
VISIBILITY_TIMEOUT = 10
#: A running worker looks for tasks left unacknowledged past the visibility timeout only every
#: `unacked_restore_interval` times `unacked_restore_throttle` seconds (kombu's Redis transport,
#: 10 times 10) and when it starts: a task can wait that much longer to come back.
RESTORE_SWEEP = 100
RUNS = ("redis", "postgres", "worker", "buyers", "mixed")
#: The orders placed since the order id `:first` (taken as max(id) + 1 before a run).
SINCE = "SELECT {} FROM orders_order WHERE id >= :first ORDER BY id"


class Stack:
    """Everything the runs start; stop() kills all of it (process groups, the cluster)."""

    def __init__(self, *, port: int, workers: int):
        self.port, self.redis_port, self.pg_port, self.smtp_port = (
            port,
            port + 1,
            port + 2,
            port + 3,
        )
        self.workers = workers
        self.dir = Path(tempfile.mkdtemp(prefix="shop-chaos-"))
        self.pg_data = self.dir / "pg"
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self.as_postgres:
            shutil.chown(self.dir, user="postgres")
            self.dir.chmod(0o755)
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="chaos_settings",
            PYTHONPATH=str(BASE_DIR / "bench"),
            DEBUG="false",
            SECRET_KEY="chaos-only-secret-key-not-for-production-0123456789abcdef",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{self.pg_port}/shop",
            REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            CELERY_BROKER_URL=f"redis://127.0.0.1:{self.redis_port}/1",
            CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
            EMAIL_URL=f"smtp://127.0.0.1:{self.smtp_port}",
            PAYMENT_PROVIDERS="manual,sandbox",
            SANDBOX_PAYMENT_SECRET=SANDBOX_SECRET,
            LOG_LEVEL="ERROR",
        )
        return env

    # --- processes ---------------------------------------------------------------------

    def spawn(self, name: str, command: list[str], **kwargs) -> subprocess.Popen:
        log = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
        self.processes[name] = process
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill a process and everything it started (its process group), and reap it."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM if name == "gunicorn" else signal.SIGKILL)
        if (self.pg_data / "postmaster.pid").exists():
            self.pg(["pg_ctl", "-D", str(self.pg_data), "stop", "-m", "immediate"], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- PostgreSQL --------------------------------------------------------------------

    def pg(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess:
        command = [str(PG_BIN / command[0]), *command[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start_postgres(self) -> None:
        self.pg(["initdb", "-D", str(self.pg_data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        options = (
            f"-p {self.pg_port} -c listen_addresses=127.0.0.1 -k {self.pg_data} "
            "-c max_connections=100 -c fsync=off"
        )
        log = str(self.dir / "postgres.log")
        self.pg(["pg_ctl", "-D", str(self.pg_data), "-l", log, "-o", options, "-w", "start"])
        self.pg(["createdb", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "shop"])

    def restart_postgres(self) -> float:
        """A fast restart (what an upgrade or a failover does): clients are disconnected,
        open transactions roll back. Returns the seconds it took."""
        began = time.monotonic()
        log = str(self.dir / "postgres.log")  # without it the server would hold our pipe
        self.pg(["pg_ctl", "-D", str(self.pg_data), "-l", log, "-m", "fast", "-w", "restart"])
        return time.monotonic() - began

    @property
    def psql(self) -> list[str]:
        return [
            str(PG_BIN / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.pg_port),
            "-U",
            "postgres",
            "-d",
            "shop",
        ]

    def sql(self, query: str, **params) -> list[list[str]]:
        """Rows of `query`, run by psql; `params` are psql variables (`:'name'` in the query
        is the value quoted as a literal), so no value is pasted into SQL."""
        variables = [f"--set={name}={value}" for name, value in params.items()]
        result = subprocess.run(
            [*self.psql, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", *variables],
            input=query,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def value(self, query: str, **params) -> int:
        return int(self.sql(query, **params)[0][0])

    # --- Redis, the shop, the worker ---------------------------------------------------

    def start_redis(self) -> None:
        self.spawn(
            "redis",
            [
                *("redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.dir)),
            ],
        )
        wait_for(lambda: self.redis("PING") == "PONG", "Redis", seconds=10)

    def redis(self, *command: str, db: int = 0) -> str:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), "-n", str(db), *command],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return result.stdout.strip()

    def manage(self, *args: str, code: str = "") -> str:
        command = [str(SHOP_BIN / "python"), "manage.py", *args] + (["-c", code] if code else [])
        return subprocess.run(
            command, cwd=BASE_DIR, env=self.env, capture_output=True, text=True, check=True
        ).stdout

    def start_gunicorn(self, app: str = "shop.wsgi") -> None:
        self.spawn(
            "gunicorn",
            [
                *(str(SHOP_BIN / "gunicorn"), app, "--workers", str(self.workers)),
                *("--bind", f"127.0.0.1:{self.port}", "--timeout", "20", "--log-level", "error"),
            ],
            cwd=BASE_DIR,
            env=self.env,
        )
        wait_for(lambda: http_status(f"{self.url}/livez") == 200, "gunicorn", seconds=180)

    def start_worker(self) -> None:
        self.spawn(
            "worker",
            [
                *(str(SHOP_BIN / "celery"), "-A", "shop", "worker", "--concurrency", "1"),
                *("--loglevel", "warning", "--without-gossip", "--without-mingle"),
            ],
            cwd=BASE_DIR,
            env=self.env,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[str]:
        """gunicorn's workers: the master's children."""
        master = self.processes["gunicorn"].pid
        return sorted(Path(f"/proc/{master}/task/{master}/children").read_text().split())

    def worker_rss_mib(self) -> list[float]:
        """Resident memory of each gunicorn worker, in MiB."""
        sizes = []
        for pid in self.worker_pids():
            status = Path(f"/proc/{pid}/status").read_text()
            sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
        return sizes


# --- helpers ---------------------------------------------------------------------------


def wait_for(ready, what: str, *, seconds: float) -> float:
    """Poll `ready()` until true; returns the seconds waited, fails after `seconds`."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        with contextlib.suppress(Exception):
            if ready():
                return time.monotonic() - began
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {seconds} s")


def http_status(url: str) -> int:
    try:
        # The runs' own loopback server.
        with urllib.request.urlopen(url, timeout=5) as response:  # nosec B310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def load_now() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"{one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores"


def run_locust(stack: Stack, *, user: str, users: int, seconds: int, paths: Path, log: Path):
    """locust headless for `seconds`, in the background; every request lands in `log`."""
    env = dict(os.environ, CHAOS_PATHS=str(paths), CHAOS_LOG=str(log))
    command = [str(LOCUST), "-f", str(BASE_DIR / "bench" / "chaos_locustfile.py"), "--headless"]
    command += ["-u", str(users), "-r", str(users), "-t", f"{seconds}s", "-H", stack.url]
    command += ["--only-summary", "--stop-timeout", "5", user]
    return stack.spawn("locust", command, env=env)


def read_log(log: Path) -> list[tuple[float, str, int, float, str]]:
    with open(log, newline="") as handle:
        return [
            (float(row[0]), row[1], int(row[2]), float(row[3]), row[4])
            for row in csv.reader(handle)
            if len(row) == 5  # a line being written is left for the next read
        ]


def phase_row(label: str, rows: list, start: float, end: float) -> tuple[str, dict]:
    inside = [r for r in rows if start <= r[0] < end]
    times = [r[3] for r in inside]
    bad = [r for r in inside if not 200 <= r[2] < 300]
    signed_out = [r for r in inside if r[4].startswith("signed out")]
    figures = {
        "requests": len(inside),
        "rps": len(inside) / max(end - start, 0.001),
        "bad": len(bad),
        "signed_out": len(signed_out),
        "p50": statistics.median(times) if times else 0.0,
        "p99": percentile(times, 0.99),
    }
    line = (
        f"| {label} | {figures['requests']} | {figures['rps']:.1f} | {figures['bad']} "
        f"| {figures['signed_out']} | {figures['p50']:.0f} | {figures['p99']:.0f} |"
    )
    return line, figures


class Checks:
    """What a run asserts: each line is written to the report with PASS or FAIL."""

    def __init__(self):
        self.lines: list[str] = []
        self.failed = False

    def __call__(self, ok: bool, text: str) -> None:
        self.failed |= not ok
        self.lines.append(f"- **{'PASS' if ok else 'FAIL'}** {text}")
        print(self.lines[-1], flush=True)


# --- the stack's data ------------------------------------------------------------------


def prepare(stack: Stack, *, products: int, accounts: int) -> Path:
    """Migrate, seed the demo catalog, create the signed-in shoppers; write the paths file
    the load tool reads. Returns its path."""
    print("migrate, seed, collectstatic ...", flush=True)
    stack.manage("migrate", "--noinput")
    stack.manage("seed_demo", "--products", str(products), "--orders", "0")
    stack.manage("collectstatic", "--noinput")
    stack.manage(
        "shell",
        code=(
            "from django.contrib.auth import get_user_model\n"
            "User = get_user_model()\n"
            f"for i in range({accounts}):\n"
            "    email = f'chaos{i}@example.com'\n"
            "    if not User.objects.filter(email=email).exists():\n"
            f"        User.objects.create_user(email=email, password={PASSWORD!r})\n"
        ),
    )
    products_in_stock = stack.sql(
        "SELECT p.slug, min(v.id) FROM catalog_product p JOIN catalog_variant v "
        "ON v.product_id = p.id WHERE p.is_published AND v.is_active AND v.stock > 5 "
        "GROUP BY p.slug ORDER BY p.slug LIMIT 200"
    )
    categories = [row[0] for row in stack.sql("SELECT slug FROM catalog_category ORDER BY id")]
    words = sorted(
        {
            row[0].split()[0].lower()
            for row in stack.sql("SELECT name FROM catalog_product LIMIT 200")
        }
    )
    paths = {
        "browse": ["/"]
        + [f"/c/{slug}/" for slug in categories[:20]]
        + [f"/p/{slug}/" for slug, _variant in products_in_stock],
        "searches": words[:40] or ["shirt"],
        "variants": [int(variant) for _slug, variant in products_in_stock],
        "accounts": [f"chaos{i}@example.com" for i in range(accounts)],
        "password": PASSWORD,
    }
    file = stack.dir / "paths.json"
    file.write_text(json.dumps(paths))
    return file


# --- run 1: Redis killed -----------------------------------------------------------------


def run_redis(stack: Stack, paths: Path, *, users: int) -> tuple[list[str], Checks]:
    """Signed-in shoppers browse and fill carts; Redis is SIGKILLed after the first third
    and started again (empty) after the second: three phases of equal length."""
    check = Checks()
    phase = 10
    log = stack.dir / "redis-run.csv"
    load = load_now()
    # Bounded by -t; stopped as soon as the three phases are over.
    run_locust(stack, user="SignedInShopper", users=users, seconds=180, paths=paths, log=log)
    # The phases start once every shopper has signed in (argon2 is slow by design).
    wait_for(
        lambda: sum(row[1] == "sign in" for row in read_log(log)) >= users, "sign-ins", seconds=120
    )
    began = time.time()
    time.sleep(phase)
    keys_before = int(stack.redis("DBSIZE") or 0)
    stack.kill("redis")
    killed = time.time()
    time.sleep(phase)
    stack.start_redis()
    back = time.time()
    refilled_after = wait_for(
        lambda: int(stack.redis("DBSIZE") or 0) > 0, "cache refill", seconds=phase
    )
    time.sleep(max(0.0, back + phase - time.time()))
    stack.kill("locust", signal.SIGTERM)
    keys_at_end = int(stack.redis("DBSIZE") or 0)
    rows = read_log(log)
    table, figures = [], {}
    for label, start, end in (
        ("before (Redis up)", began, killed),
        ("during (Redis killed)", killed, back),
        ("after (Redis back, empty)", back, back + phase),
    ):
        line, figures[label] = phase_row(label, rows, start, end)
        table.append(line)
    total_bad = sum(1 for r in rows if not 200 <= r[2] < 300)
    signed_out = sum(f["signed_out"] for f in figures.values())
    check(
        total_bad == 0, f"{total_bad} non-2xx answers of {len(rows)} requests (sign-ins included)"
    )
    check(signed_out == 0, f"{signed_out} signed-in checks found the shopper signed out")
    check(
        keys_at_end > 0,
        f"the cache refilled once Redis was back: first key after {refilled_after:.1f} s, "
        f"{keys_at_end} keys at the end ({keys_before} before the kill)",
    )
    lines = [
        "## Redis killed (SIGKILL) under browse + cart load",
        "",
        f"{users} signed-in shoppers (locust, no think time): browse 6 : add to cart and view "
        "it 2 : their account page 1. Redis (cache and sessions' cache; sessions are "
        f"`cached_db`) SIGKILLed after {phase} s, started again empty {phase} s later. "
        f"Load average at the start: {load}.",
        "",
        "| phase | requests | req/s | non-2xx | signed out | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *table,
        "",
        *check.lines,
        "",
    ]
    return lines, check


# --- run 2: PostgreSQL restarted ---------------------------------------------------------


def sandbox_order(stack: Stack, product: str) -> dict:
    """A guest order to be paid through the sandbox gateway, left at the gateway's hosted
    page; returns what its callback needs (read now: the database may be down later)."""
    guest = purchase.Guest(stack.port)
    if purchase.purchase(guest, product, payment_method="sandbox") is not True:
        raise RuntimeError("could not place a sandbox order")
    location = guest.last_location
    for _hop in range(4):
        if "/payments/sandbox/" in location:
            break
        _status, location, _html = guest.request("GET", location)
    token = location.rstrip("/").rsplit("/", 1)[1]
    [(number, amount, currency)] = stack.sql(
        "SELECT o.number, p.amount, p.currency FROM orders_order o "
        "JOIN payments_payment p ON p.order_id = o.id WHERE p.reference = :'token'",
        token=token,
    )
    return {"payment": token, "order": number, "amount": amount, "currency": currency}


def send_callback(stack: Stack, *, event_id: str, order: dict) -> int:
    """A signed `payment.captured` callback, as the sandbox gateway sends it; the status."""
    event = {"id": event_id, "type": "payment.captured", **order}
    body = json.dumps(event, separators=(",", ":")).encode()
    signature = "sha256=" + hmac.new(SANDBOX_SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{stack.url}/payments/webhook/sandbox/",
        data=body,
        headers={"Content-Type": "application/json", "X-Sandbox-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


class RecordingGuest(purchase.Guest):
    """A guest whose every answer is kept: status, and whether a 5xx was the shop's own page."""

    answers: list[tuple[int, bool]] = []
    lock = threading.Lock()

    def request(self, method, path, data=None):
        status, location, html = super().request(method, path, data)
        clean = status < 500 or ("Back in a moment" in html and "Traceback" not in html)
        with self.lock:
            self.answers.append((status, clean))
        return status, location, html


def run_postgres(
    stack: Stack, paths: Path, *, checkouts: int, callbacks: int
) -> tuple[list[str], Checks]:
    """Checkouts and signed payment callbacks in flight while PostgreSQL restarts."""
    check = Checks()
    browse = json.loads(paths.read_text())["browse"]
    products = [path for path in browse if path.startswith("/p/")]
    print(f"placing {callbacks} sandbox orders to be paid during the restart ...", flush=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        unpaid = list(
            pool.map(lambda i: sandbox_order(stack, products[i % len(products)]), range(callbacks))
        )
    orders_before = stack.value("SELECT count(*) FROM orders_order")
    worker_pids = stack.worker_pids()
    load = load_now()
    callback_status: dict[int, int] = {}
    placed = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    RecordingGuest.answers = []

    def pay(indexes):
        for i in indexes:
            status = send_callback(stack, event_id=f"evt_chaos_{i}", order=unpaid[i])
            with lock:
                callback_status[i] = status
            time.sleep(0.1)

    def buy(count, offset):
        for n in range(count):
            guest = RecordingGuest(stack.port)
            try:
                ok = purchase.purchase(guest, products[(offset + n) % len(products)])
            except OSError:
                ok = False
            with lock:
                placed["ok" if ok else "failed"] += 1

    threads = [threading.Thread(target=pay, args=(range(i, callbacks, 10),)) for i in range(10)]
    threads += [threading.Thread(target=buy, args=(checkouts // 10, 7 * i)) for i in range(10)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    restart_seconds = stack.restart_postgres()
    recovered = wait_for(lambda: http_status(f"{stack.url}/healthz") == 200, "recovery", seconds=60)
    for thread in threads:
        thread.join(timeout=300)
    # The provider retries what was not answered 2xx, as a real gateway does.
    retried = [i for i, status in callback_status.items() if not 200 <= status < 300]
    retry_status = {
        i: send_callback(stack, event_id=f"evt_chaos_{i}", order=unpaid[i]) for i in retried
    }

    answered = [i for i, status in callback_status.items() if 200 <= status < 300]
    paid = (
        "SELECT count(*) FROM orders_order WHERE payment_status = 'paid' "
        "AND number = ANY(string_to_array(:'numbers', ','))"
    )
    paid_of_answered = stack.value(paid, numbers=",".join(unpaid[i]["order"] for i in answered))
    paid_in_the_end = stack.value(paid, numbers=",".join(order["order"] for order in unpaid))
    half_written = stack.value(
        "SELECT count(*) FROM orders_order o WHERE NOT EXISTS (SELECT 1 FROM orders_orderline l "
        "WHERE l.order_id = o.id) OR NOT EXISTS (SELECT 1 FROM orders_ordermail m WHERE "
        "m.order_id = o.id AND m.name = 'placed') OR (SELECT count(*) FROM catalog_stockmovement s "
        "WHERE s.reference = o.number AND s.reason = 'sale') <> (SELECT count(*) FROM "
        "orders_orderline l WHERE l.order_id = o.id)"
    )
    orders_placed = stack.value("SELECT count(*) FROM orders_order") - orders_before
    answers = RecordingGuest.answers
    server_errors = [status for status, _clean in answers if status >= 500]
    unclean = [status for status, clean in answers if not clean]
    after_pids = stack.worker_pids()
    final = purchase.purchase(purchase.Guest(stack.port), products[0])

    check(
        paid_of_answered == len(answered),
        f"{len(answered)} of {callbacks} callbacks answered 2xx during the run; "
        f"{paid_of_answered} of their orders are paid",
    )
    check(
        paid_in_the_end == callbacks and all(200 <= s < 300 for s in retry_status.values()),
        f"the {len(retried)} others ({sorted(set(callback_status[i] for i in retried))}) "
        f"were answered 2xx when sent again after the restart; {paid_in_the_end} of "
        f"{callbacks} orders paid in the end",
    )
    check(
        half_written == 0,
        f"{half_written} half-written orders (no lines, no stock movement "
        "per line, or no queued confirmation) among all orders",
    )
    check(
        orders_placed >= placed["ok"],
        f"{placed['ok']} of {checkouts} checkouts placed their order, {placed['failed']} were "
        f"interrupted; {orders_placed} orders written (a checkout whose answer was lost may "
        "have its order)",
    )
    check(
        not unclean,
        f"{len(server_errors)} of {len(answers)} shopper requests answered 5xx "
        f"({sorted(set(server_errors))}), each the shop's 503 page (no traceback): "
        f"{len(unclean)} were not",
    )
    check(
        recovered < 30 and final is True and after_pids == worker_pids,
        f"restart took {restart_seconds:.1f} s; /healthz answered 200 {recovered:.1f} s after "
        f"it; a checkout afterwards {'succeeded' if final else 'FAILED'}; the same "
        f"{len(after_pids)} gunicorn workers served throughout (no restart)",
    )
    lines = [
        "## PostgreSQL restarted during checkouts and payment callbacks",
        "",
        f"{checkouts} guest checkouts (10 shoppers, 6 requests each: product, add, checkout, "
        f"details, review, place) and {callbacks} signed `payment.captured` callbacks of the "
        "sandbox gateway (10 senders, one per 0.1 s each) for orders placed beforehand; "
        "`pg_ctl restart -m fast` 3 s in (clients disconnected, open transactions rolled back). "
        f"Load average at the start: {load}.",
        "",
        *check.lines,
        "",
    ]
    return lines, check


# --- run 3: a Celery worker killed while mailing -----------------------------------------


class MailSink:
    """An SMTP server on loopback (aiosmtpd) that keeps what it accepted. Each message takes
    0.2 s (a slow mail server); while the `kill_at`-th is being received, `on_kill()` kills
    the worker, and that message is never acknowledged (no 250): it was not sent."""

    def __init__(self, *, port: int, kill_at: int, on_kill):
        from aiosmtpd.controller import Controller

        self.accepted: list[bytes] = []
        self.accepted_at: list[float] = []  # time.monotonic() of each, in order
        self.seen = 0
        self.killed_at = 0.0
        self.interrupted = b""  # the message being received when the worker was killed
        self.kill_at, self.on_kill = kill_at, on_kill
        self.killed = threading.Event()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(0.2)
        self.seen += 1
        if self.seen == self.kill_at:
            # The kill closes the worker's connection, and aiosmtpd then cancels this
            # handler: so the event is set by the thread that killed, not after the await.
            self.interrupted = envelope.original_content or envelope.content
            await asyncio.get_running_loop().run_in_executor(None, self._kill)
            return "451 4.3.0 Try again later"
        self.accepted.append(envelope.original_content or envelope.content)
        self.accepted_at.append(time.monotonic())
        return "250 OK"

    def _kill(self) -> None:
        self.on_kill()
        self.killed_at = time.monotonic()
        self.killed.set()


def run_worker(stack: Stack, paths: Path, *, orders: int) -> tuple[list[str], Checks]:
    check = Checks()
    products = [p for p in json.loads(paths.read_text())["browse"] if p.startswith("/p/")]
    stack.redis("FLUSHDB", db=1)  # tasks left by the other runs, which ran no worker
    first = stack.value("SELECT coalesce(max(id), 0) FROM orders_order") + 1
    for i in range(orders):
        if purchase.purchase(purchase.Guest(stack.port), products[i % len(products)]) is not True:
            raise RuntimeError("could not place an order for the mail run")
    numbers = [row[0] for row in stack.sql(SINCE.format("number"), first=first)]
    load = load_now()
    sink = MailSink(port=stack.smtp_port, kill_at=5, on_kill=lambda: stack.kill("worker"))
    sink.controller.start()
    try:
        stack.start_worker()
        sink.killed.wait(timeout=120)
        killed_after = len(sink.accepted)
        stack.start_worker()

        def all_sent() -> bool:
            mails = b"\n".join(sink.accepted)
            return all(number.encode() in mails for number in numbers)

        wait_for(all_sent, "every order mail", seconds=120 + VISIBILITY_TIMEOUT + RESTORE_SWEEP)
        time.sleep(VISIBILITY_TIMEOUT + 2)  # a duplicate would come after the timeout
    finally:
        sink.controller.stop()
        stack.kill("worker")
    counts = {n: sum(n.encode() in mail for mail in sink.accepted) for n in numbers}
    interrupted = next((n for n in numbers if n.encode() in sink.interrupted), "?")
    resent_after = next(
        (
            at - sink.killed_at
            for mail, at in zip(sink.accepted, sink.accepted_at, strict=True)
            if interrupted.encode() in mail
        ),
        float("nan"),
    )
    last_after = (sink.accepted_at[-1] - sink.killed_at) if sink.accepted_at else float("nan")
    unsent = stack.value(
        "SELECT count(*) FROM orders_ordermail WHERE order_id >= :first AND sent_at IS NULL",
        first=first,
    )
    check(
        sink.killed.is_set(),
        f"the worker was SIGKILLed while sending mail 5 ({killed_after} accepted before)",
    )
    check(
        set(counts.values()) == {1},
        f"each of the {len(numbers)} orders' confirmations arrived exactly once "
        f"(counts seen: {sorted(set(counts.values()))}); the interrupted one ({interrupted}) "
        f"{resent_after:.0f} s after the kill, the last {last_after:.0f} s after it",
    )
    check(unsent == 0, f"{unsent} order mails left unsent in the database")
    lines = [
        "## A Celery worker killed while sending order mails",
        "",
        f"{orders} orders placed (one confirmation each, queued on commit), then one worker "
        "(concurrency 1, late acknowledgement) started against an SMTP sink that takes 0.2 s "
        "a message; while the 5th message was being received the worker's process group was "
        "SIGKILLed (that message never got its 250), and a new worker started. The broker "
        f"hands an unacknowledged task out again after `CELERY_VISIBILITY_TIMEOUT` "
        f"({VISIBILITY_TIMEOUT} s in this run), found by the new worker's sweep for such "
        f"tasks, which runs about every {RESTORE_SWEEP} s (kombu). Load average at the "
        f"start: {load}.",
        "",
        *check.lines,
        "",
    ]
    return lines, check


# --- run 4: 200 buyers for 10 units ------------------------------------------------------


def set_stock(stack: Stack, *, variant: int, units: int) -> None:
    """A stocktake through the catalog's own service (a movement, as the merchant's is)."""
    stack.manage(
        "shell",
        code=(
            "from catalog.models import Variant\n"
            "from catalog.stock import count_stock\n"
            f"v = Variant.objects.get(pk={variant})\n"
            f"count_stock(variant_id=v.pk, counted={units}, expected=v.stock, note='chaos')\n"
        ),
    )


def message_of(html: str) -> str:
    """The first flash message on a page, as text."""
    found = re.search(r'class="[^"]*message[^"]*"[^>]*>(.*?)</', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()) if found else ""


def buyers_race(stack: Stack, *, variant: int, product: str, buyers: int, units: int) -> dict:
    """`buyers` guests each get to the review page of one unit, then all place at once."""
    set_stock(stack, variant=variant, units=units)
    first = stack.value("SELECT coalesce(max(id), 0) FROM orders_order") + 1
    # 200 posts queue for a few sync workers: the last wait minutes on a busy machine.
    guests = [purchase.Guest(stack.port, timeout=300) for _ in range(buyers)]
    forms: list[dict | None] = [None] * buyers

    def prepare(i):
        result = purchase.prepare_order(guests[i], product, variant=str(variant))
        forms[i] = result if isinstance(result, dict) else None

    for batch in range(0, buyers, 20):  # 20 at a time: the race is the placing, not this
        threads = [
            threading.Thread(target=prepare, args=(i,))
            for i in range(batch, min(batch + 20, buyers))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    barrier = threading.Barrier(buyers, timeout=60)
    outcomes: list[tuple[bool, str]] = [(False, "not ready")] * buyers

    def place(i):
        barrier.wait()
        if forms[i] is None:
            outcomes[i] = (False, "could not reach the review page")
            return
        status, location, _html = guests[i].request("POST", "/checkout/place/", forms[i])
        if purchase.placed(status, location):
            outcomes[i] = (True, "")
            return
        html = ""
        for _hop in range(3):  # to the page that shows the message (review, cart)
            if not location:
                break
            status, location, html = guests[i].request("GET", location)
        outcomes[i] = (False, message_of(html) or f"HTTP {status}")

    threads = [threading.Thread(target=place, args=(i,)) for i in range(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    orders = stack.value(
        "SELECT count(DISTINCT o.id) FROM orders_order o JOIN orders_orderline l "
        "ON l.order_id = o.id WHERE o.id >= :first AND l.variant_id = :variant",
        first=first,
        variant=variant,
    )
    messages: dict[str, int] = {}
    for ok, message in outcomes:
        if not ok:
            messages[message] = messages.get(message, 0) + 1
    return {
        "orders": orders,
        "placed": sum(ok for ok, _m in outcomes),
        "stock": stack.value(
            "SELECT stock FROM catalog_variant WHERE id = :variant", variant=variant
        ),
        "messages": messages,
        "reached_review": sum(form is not None for form in forms),
    }


def run_buyers(stack: Stack, paths: Path, *, buyers: int, units: int) -> tuple[list[str], Checks]:
    check = Checks()
    data = json.loads(paths.read_text())
    products = [path for path in data["browse"] if path.startswith("/p/")]
    pairs = list(zip(products, data["variants"], strict=True))
    load = load_now()
    product, variant = pairs[-1]
    locked = buyers_race(stack, variant=variant, product=product, buyers=buyers, units=units)
    stack.kill("gunicorn", signal.SIGTERM)
    stack.start_gunicorn("unlocked_wsgi:application")
    try:
        product, variant = pairs[-2]
        control = buyers_race(stack, variant=variant, product=product, buyers=buyers, units=units)
    finally:
        stack.kill("gunicorn", signal.SIGTERM)
        stack.start_gunicorn()
    sold_out = [m for m in locked["messages"] if re.search(r"stock|sold out", m, re.I)]
    check(
        locked["orders"] == units and locked["placed"] == units and locked["stock"] == 0,
        f"the shop: {locked['orders']} orders for {units} units ({locked['placed']} buyers "
        f"were led to their order), stock now {locked['stock']}; "
        f"{locked['reached_review']} of {buyers} reached the review page",
    )
    check(
        sum(locked["messages"].values()) == buyers - units
        and len(sold_out) == len(locked["messages"]),
        "every other buyer was sent back with a message saying so: "
        + "; ".join(f"{n} × “{m}”" for m, n in locked["messages"].items()),
    )
    check(
        control["orders"] > units,
        f"the unlocked control (bench/unlocked_wsgi.py: no row lock, stock written back as "
        f"read minus sold): {control['orders']} orders for {units} units, so the harness "
        "sees an oversell when there is one",
    )
    lines = [
        f"## {buyers} concurrent buyers for {units} units",
        "",
        f"{buyers} guests over HTTP each put one unit of the same variant in a cart and get "
        'to the review page; then all post "Place order" at once (a barrier). The same '
        "harness then runs against the unlocked control. gunicorn with "
        f"{stack.workers} sync workers. Load average at the start: {load}.",
        "",
        *check.lines,
        "",
    ]
    return lines, check


# --- run 5: mixed load -------------------------------------------------------------------


class LoadSampler:
    """The 1-minute load average every `every` seconds while a run lasts (the machine is
    shared: what else ran is part of every figure)."""

    def __init__(self, every: float = 10):
        self.samples: list[float] = []
        self.every = every
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.done.wait(self.every if self.samples else 0):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(timeout=5)

    def summary(self) -> str:
        if not self.samples:
            return "not sampled"
        return (
            f"min {min(self.samples):.1f}, median {statistics.median(self.samples):.1f}, "
            f"max {max(self.samples):.1f} ({len(self.samples)} samples, every {self.every:.0f} s)"
        )


def probe_rate(stack: Stack, paths: Path, *, counts: list[int], seconds: int):
    """Short mixed loads at each number of users (no think time): the requests/s each gives,
    its latency and 5xx. Returns the report's lines and the count that gave the most
    requests/s without a 5xx (the highest rate the machine sustains now)."""
    rows_out, best, best_rps = [], counts[0], 0.0
    for users in counts:
        log = stack.dir / f"probe-{users}.csv"
        with LoadSampler(every=5) as load:
            locust = run_locust(
                stack, user="MixedShopper", users=users, seconds=seconds, paths=paths, log=log
            )
            locust.wait(timeout=seconds + 60)
            stack.processes.pop("locust", None)
        # The first 10 s start the users (and fill caches): left out of the rate.
        every_row = read_log(log)
        rows = [r for r in every_row if every_row and r[0] >= every_row[0][0] + 10]
        elapsed = (rows[-1][0] - rows[0][0]) if len(rows) > 1 else 1
        rps = len(rows) / max(elapsed, 1)
        errors = sum(r[2] >= 500 for r in rows)
        times = [r[3] for r in rows]
        rows_out.append(
            f"| {users} | {len(rows)} | {rps:.1f} | {errors} "
            f"| {statistics.median(times) if times else 0:.0f} | {percentile(times, 0.99):.0f} "
            f"| {statistics.median(load.samples) if load.samples else 0:.1f} |"
        )
        print(rows_out[-1], flush=True)
        if errors == 0 and rps > best_rps:
            best, best_rps = users, rps
    lines = [
        f"Probe first, {seconds} s at each number of users (the first 10 s left out), to find "
        "the rate the machine sustains now:",
        "",
        "| users | requests | req/s | 5xx | p50 ms | p99 ms | load (median) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows_out,
        "",
        f"{best} users gave the most requests/s without a 5xx ({best_rps:.1f}/s): the long run "
        "uses them.",
        "",
    ]
    return lines, best


def run_mixed(
    stack: Stack, paths: Path, *, users: int, seconds: int, probe: list[int], probe_seconds: int
) -> tuple[list[str], Checks]:
    check = Checks()
    probe_lines: list[str] = []
    if probe:
        probe_lines, users = probe_rate(stack, paths, counts=probe, seconds=probe_seconds)
    variants = json.loads(paths.read_text())["variants"]
    ids = ",".join(map(str, variants))
    stock_query = (
        "SELECT id, stock FROM catalog_variant WHERE id = ANY(string_to_array(:'ids', ',')::int[])"
    )
    stock_before = dict(stack.sql(stock_query, ids=ids))
    first = stack.value("SELECT coalesce(max(id), 0) FROM orders_order") + 1
    log = stack.dir / "mixed-run.csv"
    load_start = load_now()
    with LoadSampler() as load:
        locust = run_locust(
            stack, user="MixedShopper", users=users, seconds=seconds, paths=paths, log=log
        )
        time.sleep(min(20, seconds // 4))  # warmed up: imports, caches, connections
        rss_start = stack.worker_rss_mib()
        locust.wait(timeout=seconds + 60)
        stack.processes.pop("locust", None)
        rss_end = stack.worker_rss_mib()
    load_end = load_now()
    rows = read_log(log)
    sold = dict(
        stack.sql(
            "SELECT l.variant_id, sum(l.quantity) FROM orders_orderline l JOIN orders_order o "
            "ON o.id = l.order_id WHERE o.id >= :first GROUP BY 1",
            first=first,
        )
    )
    stock_after = dict(stack.sql(stock_query, ids=ids))
    wrong = [
        pk
        for pk, before in stock_before.items()
        if int(stock_after[pk]) != int(before) - int(sold.get(pk, 0)) or int(stock_after[pk]) < 0
    ]
    orders = len(stack.sql(SINCE.format("id"), first=first))
    by_name: dict[str, list] = {}
    for row in rows:
        by_name.setdefault(row[1], []).append(row)
    table = []
    for name, group in sorted(by_name.items(), key=lambda item: -len(item[1])):
        times = [r[3] for r in group]
        table.append(
            f"| {name} | {len(group)} | {sum(r[2] >= 500 for r in group)} "
            f"| {sum(not 200 <= r[2] < 300 for r in group)} | {statistics.median(times):.0f} "
            f"| {percentile(times, 0.99):.0f} |"
        )
    elapsed = (rows[-1][0] - rows[0][0]) if rows else 1
    server_errors = sum(r[2] >= 500 for r in rows)
    check(server_errors == 0, f"{server_errors} 5xx answers of {len(rows)} requests")
    check(
        not wrong,
        f"{orders} orders placed; for each of {len(stock_before)} variants on sale, stock "
        f"after = stock before − units ordered and never below 0 ({len(wrong)} not)",
    )
    growth = sum(rss_end) - sum(rss_start)
    check(
        growth < 20 * len(rss_start),
        f"gunicorn workers' memory (RSS, MiB) at start {[round(m) for m in rss_start]}, at "
        f"the end {[round(m) for m in rss_end]}: {growth:+.0f} MiB in all",
    )
    lines = [
        "## Mixed load",
        "",
        *probe_lines,
        f"{users} guests (locust, no think time: the rate is what the machine gives) for "
        f"{seconds} s: browse 80 %, search 10 %, cart 7 % (add, view), checkout 3 % (add, "
        f"checkout, details, review, place). {len(rows)} requests, "
        f"{len(rows) / max(elapsed, 1):.1f} requests/s on average. Load average at the start "
        f"{load_start}, at the end {load_end}; during the run (1 min): {load.summary()}.",
        "",
        "| request | count | 5xx | non-2xx | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *table,
        "",
        *check.lines,
        "",
    ]
    return lines, check


# --- the whole --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(RUNS), help=f"comma-separated, of {RUNS}")
    parser.add_argument(
        "--port", type=int, default=8130, help="first of 4 ports (+1 Redis, +2 PostgreSQL, +3 SMTP)"
    )
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--users", type=int, default=8, help="locust users of the load runs")
    parser.add_argument("--mixed-seconds", type=int, default=600)
    parser.add_argument(
        "--mixed-probe",
        default="4,8,16,32",
        help="users counts tried first for a short while each; the long run uses the one "
        "that gave the most requests/s ('' skips the probe and uses --users)",
    )
    parser.add_argument("--probe-seconds", type=int, default=60)
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--output", type=Path, default=RESULTS / "reliability.md")
    args = parser.parse_args()
    chosen = [run for run in args.only.split(",") if run]
    if unknown := set(chosen) - set(RUNS):
        parser.error(f"unknown runs: {sorted(unknown)}")
    # Ctrl-C or a TERM from outside: unwind through the `finally` that stops everything.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    began = datetime.datetime.now(datetime.UTC)
    sections: list[str] = []
    failed = False
    stack = Stack(port=args.port, workers=args.workers)
    try:
        stack.start_postgres()
        stack.start_redis()
        paths = prepare(stack, products=args.products, accounts=args.users)
        stack.start_gunicorn()
        runs = {
            "redis": lambda: run_redis(stack, paths, users=args.users),
            "postgres": lambda: run_postgres(stack, paths, checkouts=100, callbacks=100),
            "worker": lambda: run_worker(stack, paths, orders=20),
            "buyers": lambda: run_buyers(stack, paths, buyers=args.buyers, units=10),
            "mixed": lambda: run_mixed(
                stack,
                paths,
                users=args.users,
                seconds=args.mixed_seconds,
                probe=[int(n) for n in args.mixed_probe.split(",") if n],
                probe_seconds=args.probe_seconds,
            ),
        }
        for name in chosen:
            print(f"== {name}", flush=True)
            try:
                lines, check = runs[name]()
            except Exception as error:  # the report says which run broke, and how
                traceback.print_exc()
                lines, check = [f"## {name}", "", f"- **FAIL** the run broke: {error!r}", ""], None
                failed = True
            failed |= bool(check and check.failed)
            sections += lines
    finally:
        stack.stop()
    header = [
        "# Fault runs (`make chaos`)",
        "",
        f"{began:%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores shared with "
        "other work (the load average of each run is given with it), Python "
        f"{platform.python_version()}. Each run on a stack of its own: PostgreSQL "
        f"{PG_BIN.parent.name} in a temporary folder, Redis, gunicorn ({args.workers} sync "
        f"workers, DEBUG off), Celery; {args.products} demo products. Runs: {', '.join(chosen)}.",
        "",
    ]
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text("\n".join(header + sections))
    print("\n".join(header + sections))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
