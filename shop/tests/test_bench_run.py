"""The addresses `make bench` (bench/run.py) asks: many pages of each kind, as shoppers ask."""

import http.server
import importlib.util
import re
import shutil
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
run = importlib.util.module_from_spec(spec)
# run.py imports bench/purchase.py as a sibling; bench/ is not left on the path, where its
# profile.py would shadow the standard library's for the tests that follow.
sys.path.insert(0, str(BENCH))
try:
    spec.loader.exec_module(run)
finally:
    sys.path.remove(str(BENCH))

FACETS = {
    "clothing": {"brand": ["fjell", "sable"], "colour": ["black", "red"], "size": ["m", "xl"]},
    "books": {"brand": ["paper-crane-press"]},
}


def test_filter_sets_are_distinct_and_use_only_what_each_category_can_be_filtered_by():
    paths = run.filter_sets(FACETS, 200, seed=1)

    assert len(paths) == len(set(paths)) == 200
    assert run.filter_sets(FACETS, 200, seed=1) == paths  # the same addresses every run
    for path in paths:
        slug, query = re.fullmatch(r"/c/([\w-]+)/\?(.+)", path).groups()
        params = urllib.parse.parse_qsl(query)
        allowed = {**FACETS[slug], "sort": run.SORTS}
        for name, value in params:
            if name in ("price_min", "price_max"):
                assert value.isdigit()
            else:
                assert value in allowed[name]
        assert any(name != "sort" for name, _value in params)
    assert {path.split("/")[2] for path in paths} == set(FACETS)


def test_filter_sets_stop_at_what_a_small_catalog_offers():
    paths = run.filter_sets({"books": {"brand": ["paper-crane-press"]}}, 10_000, seed=1)

    # brand, price band or both, each with or without one of the sorts.
    assert 0 < len(paths) < 10_000
    assert len(paths) == len(set(paths))


def test_product_paths_keep_a_spread_of_products_and_leave_the_rest_cold():
    products = [(f"p{n}", str(1000 + n)) for n in range(100)] + [("bare", "")]

    cached, cold = run.product_paths(products, 10)

    assert len(cached) == 10
    assert cached[:3] == ["/p/p0/", "/p/p10/", "/p/p20/?variant=1020"]
    assert sum("?variant=" in path for path in cached) == 3
    assert len(cold) == len(set(cold)) == 91
    assert not {path.split("?")[0] for path in cached} & set(cold)
    assert "/p/bare/" in cold


def test_rotation_script_names_every_path_and_starts_each_thread_where_it_stopped():
    paths = ["/", "/zh-hans/", "/c/clothing/?sort=-price&page=2"]

    first = run.rotation_script(paths, threads=2, carried={})
    later = run.rotation_script(paths, threads=2, carried={1: 7, 2: 1504})

    assert 'local paths = {"/","/zh-hans/","/c/clothing/?sort=-price&page=2"}' in first
    assert "local carried = {}" in first
    assert "(#threads - 1) * math.floor(#paths / 2)" in first
    assert "local carried = {[1] = 7,[2] = 1504}" in later


@pytest.mark.parametrize("path", ['/search/?q="', "/c/x/\\", "/p/a/\nb", "p/no-slash/"])
def test_rotation_script_refuses_what_would_need_escaping_in_lua(path):
    with pytest.raises(ValueError, match="not a plain URL path"):
        run.rotation_script(["/", path], threads=2, carried={})


def wrk_report(requests, seconds, p50="5.00ms", p99="20.00ms", non_2xx=0):
    """The lines of a wrk --latency report that the bench reads."""
    return (
        f"  Latency Distribution\n     50%    {p50}\n     75%    9.00ms\n     90%   12.00ms\n"
        f"     99%   {p99}\n  {requests} requests in {seconds}, 1.00MB read\n"
        + (f"  Non-2xx or 3xx responses: {non_2xx}\n" if non_2xx else "")
        + f"Requests/sec: {requests / float(seconds.rstrip('s')):9.2f}\n"
    )


def test_a_rows_share_is_its_requests_over_the_bare_views_in_the_same_slices():
    """Summed over the slices, each per second of its own slices; the median slice's p50, the
    highest slice's p99, the errors of all."""
    bare = [wrk_report(12_000, "4.00s"), wrk_report(4_000, "4.00s"), wrk_report(8_000, "4.00s")]
    page = [
        wrk_report(6_000, "4.00s", p50="8.00ms", p99="30.00ms"),
        wrk_report(2_000, "4.00s", p50="12.00ms", p99="90.00ms", non_2xx=2),
        wrk_report(4_000, "4.00s", p50="10.00ms", p99="40.00ms", non_2xx=1),
    ]

    row = run.interleaved_row("product", "/p/…/", bare, page)

    assert row["requests"] == 12_000
    assert row["rps"] == 1_000
    assert row["bare rps"] == 2_000
    assert row["share"] == pytest.approx(0.5)
    assert (row["p50"], row["p99"], row["errors"]) == (10.0, 90.0, 3)


def test_a_slow_slice_of_the_machine_counts_for_both_the_page_and_the_bare_view():
    """A slice in which the machine ran at half speed lowers both sides alike: the share of
    the slices is that of the page's cost, not of when the page happened to run."""
    steady = run.interleaved_row(
        "page", "/", [wrk_report(4000, "4.00s")] * 2, [wrk_report(2000, "4.00s")] * 2
    )
    drifting = run.interleaved_row(
        "page",
        "/",
        [wrk_report(4000, "4.00s"), wrk_report(2000, "4.00s")],
        [wrk_report(2000, "4.00s"), wrk_report(1000, "4.00s")],
    )

    assert steady["share"] == drifting["share"] == 0.5


def test_wrk_reports_its_seconds_in_its_own_units():
    assert run.requests_in("  812 requests in 4.10s, 9.9MB read") == (812, 4.1)
    assert run.requests_in("  3 requests in 1.00m, 9.9KB read") == (3, 60.0)
    assert run.requests_in("  7 requests in 900.00ms, 1KB read") == (7, 0.9)


def test_what_a_run_carries_to_the_next_is_read_from_its_carried_lines():
    output = "Requests/sec:   100.00\ncarried 1 640\ncarried 2 5003\n"

    assert run.carried_values(output) == {1: 640, 2: 5003}
    assert run.carried_values("Requests/sec:   100.00\n") == {}


def test_the_table_shows_each_pages_share_and_the_bare_view_of_its_slices():
    def row(name, rps, bare=None, share=None):
        return {"name": name, "path": "/x", "rps": rps, "bare rps": bare, "share": share}

    rows = [
        row("baseline", 3000.0),
        row("home", 1800.0, bare=2000.0, share=0.9),
        row("baseline again", 2000.0),
    ]
    for each in rows:
        each.update(p50=1.0, p99=2.0, errors=0)
    lines = run.render_table(rows).splitlines()
    assert "bare view in the same slices, requests/s" in lines[0]
    assert [line.split(" | ")[2:7] for line in lines[2:]] == [
        ["3000", "1.0", "2.0", "", ""],
        ["1800", "1.0", "2.0", "2000", "0.90"],
        ["2000", "1.0", "2.0", "", ""],
    ]


def test_search_queries_are_distinct_runs_of_one_to_three_words_in_a_seeded_order():
    names = ["Fjell Alpine Linen Shirt", "Sable Pro Blouse", "Fjell Alpine Parka"]

    def listing(path):
        if not path.endswith("page=1"):
            return ""
        return "".join(f'<p class="product-card__name">{name}</p>' for name in names)

    queries = run.search_queries(100, get=listing)

    assert len(queries) == len(set(queries)) == 8 + 6 + 4  # words, pairs, threes
    assert {"fjell", "linen+shirt", "fjell+alpine+linen", "alpine+linen+shirt"} <= set(queries)
    assert "fjell+alpine" in queries and "sable+pro+blouse" in queries
    assert run.search_queries(100, get=listing) == queries
    assert len(run.search_queries(5, get=listing)) == 5


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with 200 and keeps what was asked, in the order it came."""

    protocol_version = "HTTP/1.1"
    asked: list = []

    def do_GET(self):
        self.asked.append((self.path, self.headers.get("Cookie"), ""))
        self.answer()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.asked.append((self.path, self.headers.get("Cookie"), body))
        self.answer()

    def answer(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    Recorder.asked = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.handle_error = lambda request, address: None  # wrk drops its connections at the end
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def slices(url, script, tmp_path, *, count=3):
    """Run wrk `count` times (1 s, a connection per thread) with the Lua `script` made from
    what the runs before carried, as bench/run.py's measure does; what each run asked."""
    carried, asked = {}, []
    for _ in range(count):
        lua = tmp_path / "slice.lua"
        lua.write_text(script(carried))
        before = len(Recorder.asked)
        output = run._wrk(["-t2", "-c2", "-d1s", "-s", str(lua), url])
        time.sleep(0.2)  # the last requests sent reach the recorder
        carried.update(run.carried_values(output))
        asked.append(Recorder.asked[before:])
    return asked


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_each_slice_of_a_rotation_goes_on_where_the_last_stopped(recorder, tmp_path):
    """The cold rows' slices never ask what an earlier slice asked: the "asked of distinct"
    figure stays true."""
    paths = [f"/p/{n}/" for n in range(60_000)]

    asked = slices(
        recorder, lambda carried: run.rotation_script(paths, threads=2, carried=carried), tmp_path
    )

    every = [path for each in asked for path, _cookie, _body in each]
    assert all(asked)
    assert len(every) == len(set(every))
    # Each thread walks its own half of the list, from where it stopped.
    positions = sorted(paths.index(path) for path in every)
    halves = [n for n in positions if n < 30_000], [n for n in positions if n >= 30_000]
    for half in halves:
        assert half[-1] - half[0] < len(half) + 2 * 3  # wrk's unsent check skips one a run


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_every_quantity_update_changes_its_cart_also_across_slices(recorder, tmp_path):
    carts = [
        f'{{cookie = "sessionid={n}", token = "t{n}", lines = {{{n}1,{n}2}}}}' for n in range(1, 5)
    ]

    asked = slices(
        recorder,
        lambda carried: run.quantity_updates_script(carts, threads=2, carried=carried),
        tmp_path,
    )

    posted: dict[str, list[str]] = {}
    for _path, cookie, body in (request for each in asked for request in each):
        fields = urllib.parse.parse_qs(body)
        number = cookie.removeprefix("sessionid=")
        assert fields[f"quantity-{number}1"] == fields[f"quantity-{number}2"]
        posted.setdefault(cookie, []).append(fields[f"quantity-{number}1"][0])
    assert len(posted) == 4
    for quantities in posted.values():
        # Set up at 1: 2, 1, 2, ... each post a change, from one slice to the next too.
        assert quantities == ["2", "1"] * (len(quantities) // 2) + ["2"] * (len(quantities) % 2)
