"""Instructions a request (callgrind) of the cached pages and the bare view for a new
visitor, as bench/cached_cpu.py asks them: a count that the machine's load does not move.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python bench/cached_instructions.py --requests 50

The script runs itself under `valgrind --tool=callgrind`. Each page is asked 30 times first
(rendered, kept, loaders and connections warm), then, with the collector settled as
gunicorn.conf.py settles it, `--requests` times inside a libc qsort() call whose comparator
asks them: callgrind counts only inside qsort_r and writes one dump after each, so startup
and warm-up are left out. The collector's share (a young pass falling in a page's window
or not) is printed apart and left out of the figure.
"""

import argparse
import ctypes
import gc
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PAGES = {"bare": "/livez", "home": "/", "category": "/c/clothing/", "product": "/p/demo-000010/"}


def measure(pages: list[str], requests: int) -> None:
    """Under callgrind: each page's requests inside its own qsort() call."""
    sys.path = [p for p in sys.path if Path(p or ".").resolve() != BASE_DIR / "bench"]
    sys.path.insert(0, str(BASE_DIR / "bench"))
    import cached_cpu

    sys.path.pop(0)
    for page in pages:
        for _ in range(30):
            assert cached_cpu.ask(PAGES[page], "") == 200, page
    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 20, 20)  # gunicorn.conf.py's GC_THRESHOLD
    compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    pair = (ctypes.c_int * 2)(1, 2)
    for page in pages:

        def ask(_a, _b, path=PAGES[page]):
            for _ in range(requests):
                cached_cpu.ask(path, "")
            return 0

        gc.collect()
        ctypes.CDLL(None).qsort(pair, 2, ctypes.sizeof(ctypes.c_int), compare(ask))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--only", default=",".join(PAGES), help="comma-separated pages")
    parser.add_argument("--under-callgrind", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    pages = [page for page in args.only.split(",") if page]
    if args.under_callgrind:
        measure(pages, args.requests)
        return 0
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=qsort_r",
                "--dump-after=qsort_r",
                f"--callgrind-out-file={out}/cg.out",
                sys.executable,
                __file__,
                "--under-callgrind",
                f"--requests={args.requests}",
                f"--only={args.only}",
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        dumps = sorted(Path(out).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        # Other qsort() calls (libraries' own) make small dumps: a page's is millions.
        totals = [(dump, _total(dump)) for dump in dumps]
        totals = [(dump, total) for dump, total in totals if total > 10_000 * args.requests]
        for page, (dump, total) in zip(pages, totals, strict=True):
            collector = _collector(dump)
            print(
                f"{page:<9} {(total - collector) / args.requests / 1e6:7.3f} M instructions "
                f"a request (the collector's {collector / args.requests / 1e6:.3f} M left out)"
            )
    return 0


def _total(dump: Path) -> int:
    return int(re.search(r"^totals: (\d+)", dump.read_text(), re.M).group(1))


def _collector(dump: Path) -> int:
    """Instructions inside the cyclic garbage collector (inclusive)."""
    annotated = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", str(dump)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"^\s*([\d,]+) .*:gc_collect_main \[", annotated, re.M)
    return int(found.group(1).replace(",", "")) if found else 0


if __name__ == "__main__":
    sys.exit(main())
