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


def test_shares_are_of_the_faster_baseline_with_the_bare_view_just_before_beside_them():
    """A disturbed baseline cannot flatter the pages; the bare view asked right before a page
    is shown beside it (how far the machine's speed moved), not divided by."""

    def row(name, path, rps, bare=None):
        return {"name": name, "path": path, "rps": rps, "bare rps": bare}

    rows = [
        row("baseline", "/livez", 3000.0),
        row("home", "/", 1800.0, bare=2000.0),
        row("baseline again", "/livez", 2000.0),
    ]
    for each in rows:
        each.update(p50=1.0, p99=2.0, errors=0)
    lines = run.render_table(rows).splitlines()[2:]
    assert [line.split(" | ")[5:7] for line in lines] == [
        ["", "1.00"],
        ["2000", "0.60"],
        ["", "0.67"],
    ]
