"""The addresses `make bench` (bench/run.py) asks: many pages of each kind, as shoppers ask."""

import importlib.util
import re
import sys
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


def test_rotation_script_names_every_path_and_gives_each_thread_its_own_start():
    paths = ["/", "/zh-hans/", "/c/clothing/?sort=-price&page=2"]

    script = run.rotation_script(paths, threads=2)

    assert 'local paths = {"/","/zh-hans/","/c/clothing/?sort=-price&page=2"}' in script
    assert "started * math.floor(#paths / 2)" in script
    assert "paths[(first + asked) % #paths + 1]" in script


@pytest.mark.parametrize("path", ['/search/?q="', "/c/x/\\", "/p/a/\nb", "p/no-slash/"])
def test_rotation_script_refuses_what_would_need_escaping_in_lua(path):
    with pytest.raises(ValueError, match="not a plain URL path"):
        run.rotation_script(["/", path], threads=2)


def test_each_page_is_a_share_of_the_bare_view_asked_right_before_it():
    """The machine's speed drifts within a run: a page is compared with its own bare-view run,
    the baseline rows with the faster of the two."""

    def row(name, path, rps, bare=None):
        return {"name": name, "path": path, "rps": rps, "bare rps": bare, "p50": 1.0}

    rows = [
        row("baseline", "/livez", 3000.0),
        row("home", "/", 1200.0, bare=2000.0),
        row("product", "/p/…/", 1500.0, bare=2500.0),
        row("baseline again", "/livez", 2000.0),
    ]
    for each in rows:
        each.update(p99=2.0, errors=0)
    shares = {
        line.split(" | ")[0].strip("| "): line.split(" | ")[6]
        for line in run.render_table(rows).splitlines()[2:]
    }
    assert shares == {
        "baseline": "1.00",
        "home": "0.60",
        "product": "0.60",
        "baseline again": "0.67",
    }
    assert "| 2000 | 0.60 |" in run.render_table(rows)
