"""A flash rush's timeline: what each gunicorn worker did when, and what the client saw.

Two halves, joined by the X-Bench-Id header the client sends with each request:

- gunicorn's side (this file is also a gunicorn config: `gunicorn -c bench/flash_timeline.py`,
  with the shop's own gunicorn.conf.py loaded first): per connection, the worker's pid, when
  it accepted the connection, when the request was read (start), when the response was
  written (end), when the connection was closed (gunicorn's close_graceful waits for the
  client to close its side) and the worker's CPU for the request, one JSON line per request
  in $FLASH_TIMELINE/<pid>.jsonl.
- the client's side (bench/flash.py --timeline): per request, when the connection was asked
  for, made (in the listen queue from then on), the request written, the answer read.

analyse() turns both into the report printed after the rush: where the first second went.
Times are time.monotonic() (one clock for every process of the machine).
"""

import json
import os
import runpy
import statistics
import time
from collections import defaultdict
from pathlib import Path

# The shop's own gunicorn settings first (the listing index loaded as a worker starts).
post_worker_init = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))[
    "post_worker_init"
]


def post_fork(server, worker):
    """Wrap the sync worker's handle(): called right after accept(), it returns once the
    connection is closed."""
    handle = worker.handle
    out = Path(os.environ["FLASH_TIMELINE"]) / f"{os.getpid()}.jsonl"

    def timed_handle(listener, client, addr):
        record = {"pid": os.getpid(), "accept": time.monotonic(), "cpu0": time.process_time()}
        worker.bench_record = record
        try:
            handle(listener, client, addr)
        finally:
            record["closed"] = time.monotonic()
            record["cpu_all"] = time.process_time() - record.pop("cpu0")
            with out.open("a") as file:
                file.write(json.dumps(record) + "\n")

    worker.handle = timed_handle


def pre_request(worker, req):
    record = getattr(worker, "bench_record", {})
    record["start"] = time.monotonic()
    record["path"] = req.path
    record["id"] = next((v for k, v in req.headers if k == "X-BENCH-ID"), "")


def post_request(worker, req, environ, resp):
    record = getattr(worker, "bench_record", {})
    record["end"] = time.monotonic()
    record["status"] = int(resp.status.split()[0]) if resp and resp.status else 0
    record["cpu"] = time.process_time() - record.get("cpu0", 0)


class CpuSampler:
    """The CPU of the client (this process), of gunicorn's processes and of the whole
    machine, every `every` seconds: [(time, client, server, machine busy)] in seconds."""

    def __init__(self, server_pids, every: float = 0.02):
        self.server_pids = server_pids
        self.every = every
        self.samples: list[tuple[float, float, float, float]] = []
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        server = 0.0
        for pid in self.server_pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            server += (int(fields[11]) + int(fields[12])) / self.tick
        cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        busy = (sum(int(x) for x in cpu) - int(cpu[3]) - int(cpu[4])) / self.tick
        self.samples.append((time.monotonic(), time.process_time(), server, busy))

    def run(self, stop) -> None:
        while not stop.is_set():
            self.sample()
            stop.wait(self.every)
        self.sample()


def read_server(directory: Path) -> list[dict]:
    records = []
    for path in directory.glob("*.jsonl"):
        records += [json.loads(line) for line in path.read_text().splitlines() if line]
    return records


def kind_of(request: dict) -> str:
    """buy-won, buy-sold-out, buy-other, or the checkout step."""
    step = request["step"]
    if step == "buy":
        return {302: "buy won", 409: "buy sold out"}.get(request.get("status"), "buy other")
    return step


def ms(value: float) -> str:
    return f"{value * 1000:,.0f}"


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)

    def at(share):
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    return f"{ms(at(0.5))} / {ms(at(0.9))} / {ms(at(0.99))} / {ms(ordered[-1])}"


def analyse(*, client: list[dict], server: list[dict], cpu, began: float) -> str:
    """The report: every time in ms from `began` (the rush's first connection asked for)."""
    by_id = {r.get("id"): r for r in server if r.get("id")}
    joined = [{**c, **{f"s_{k}": v for k, v in by_id.get(c["id"], {}).items()}} for c in client]
    lines = [
        f"requests: client {len(client)}, server {len(server)}, joined "
        f"{sum('s_accept' in r for r in joined)}",
        "",
        "Per kind of request (ms: p50 / p90 / p99 / max), from the rush's start:",
        "| kind | n | connected at | accepted at | in listen queue | accept to request read "
        "| handler (read to written) | written to closed (waits for the client's close) "
        "| client got it at | worker CPU per request p50 (ms) | worker CPU sum (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    kinds = defaultdict(list)
    for r in joined:
        kinds[kind_of(r)].append(r)
    for kind in ("buy won", "buy sold out", "buy other", "checkout", "details", "review", "place"):
        rows = [r for r in kinds.get(kind, []) if "s_accept" in r and "s_end" in r]
        if not rows:
            continue
        cpu_each = [r.get("s_cpu", 0) for r in rows]
        lines.append(
            f"| {kind} | {len(rows)} | {_spread([r['connected'] - began for r in rows])} | "
            f"{_spread([r['s_accept'] - began for r in rows])} | "
            f"{_spread([r['s_accept'] - r['connected'] for r in rows])} | "
            f"{_spread([r['s_start'] - r['s_accept'] for r in rows])} | "
            f"{_spread([r['s_end'] - r['s_start'] for r in rows])} | "
            f"{_spread([r['s_closed'] - r['s_end'] for r in rows])} | "
            f"{_spread([r['done'] - began for r in rows])} | "
            f"{statistics.median(cpu_each) * 1000:.1f} | {sum(cpu_each):.2f} |"
        )
    accepted = sorted((r for r in joined if "s_accept" in r), key=lambda r: r["s_accept"])
    firsts = {}
    for r in accepted:
        if kind_of(r) == "buy sold out" and "s_end" in r:
            firsts.setdefault(r["s_pid"], r)
    last_buy = max((r["s_accept"] for r in accepted if r["step"] == "buy"), default=0)
    ahead = [r for r in accepted if r["step"] != "buy" and r["s_accept"] < last_buy]
    lines += [
        "",
        f"Winners' checkout steps accepted before the crowd's last Buy now (ahead of it): "
        f"{len(ahead)}, their worker CPU {sum(r.get('s_cpu', 0) for r in ahead) * 1000:.0f} ms.",
        "",
        "Each worker's first sold-out answer: accepted at / answered at (ms), its CPU (ms): "
        + "; ".join(
            f"{pid}: {ms(r['s_accept'] - began)} / {ms(r['s_end'] - began)}, "
            f"{r['s_cpu'] * 1000:.0f}"
            for pid, r in sorted(firsts.items())
        ),
    ]
    buys = [r for r in accepted if r["step"] == "buy"]
    by_connect = {r["id"]: i for i, r in enumerate(sorted(buys, key=lambda r: r["connected"]))}
    out_of_order = sum(abs(by_connect[r["id"]] - i) > 5 for i, r in enumerate(buys))
    lines += [
        "",
        f"Buy nows accepted out of their connection order (by more than 5 places): "
        f"{out_of_order} of {len(buys)}; the last Buy now connected at "
        f"{ms(max((r['connected'] for r in buys), default=began) - began)} ms.",
        "",
        "Per 100 ms of the rush: connections waiting in the listen queue at the end of it, "
        "what the workers finished in it, their CPU, the client's and the machine's:",
        "| ms | queue | buy won | sold out | checkout steps | workers busy (s) "
        "| worker CPU (s) | client CPU (s) | machine CPU (s, of 0.2) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    last = max((r.get("s_closed", 0) for r in joined), default=began)
    step = 0.1
    t = began
    samples = cpu.samples

    def cpu_at(moment, index):
        before = [s for s in samples if s[0] <= moment]
        return (before[-1] if before else samples[0])[index]

    while t < last and t < began + 3.0:
        nxt = t + step
        queue = sum(
            1 for r in joined if r["connected"] <= nxt and r.get("s_accept", float("inf")) > nxt
        )
        ended = [r for r in joined if t <= r.get("s_end", -1) < nxt]
        busy = sum(
            max(0.0, min(nxt, r["s_closed"]) - max(t, r["s_accept"]))
            for r in joined
            if "s_closed" in r
        )
        worker_cpu = sum(r.get("s_cpu_all", 0) for r in joined if t <= r.get("s_closed", -1) < nxt)
        lines.append(
            f"| {ms(t - began)} | {queue} | "
            f"{sum(kind_of(r) == 'buy won' for r in ended)} | "
            f"{sum(kind_of(r) == 'buy sold out' for r in ended)} | "
            f"{sum(r['step'] != 'buy' for r in ended)} | {busy:.2f} | {worker_cpu:.2f} | "
            f"{cpu_at(nxt, 1) - cpu_at(t, 1):.2f} | {cpu_at(nxt, 3) - cpu_at(t, 3):.2f} |"
        )
        t = nxt
    return "\n".join(lines)
