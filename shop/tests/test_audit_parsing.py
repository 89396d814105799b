"""The parts of bench/audit.py (`make audit`) that read the tools' output."""

import importlib.util
import json
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "audit", Path(__file__).resolve().parents[2] / "bench" / "audit.py"
)
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def category(score, *refs):
    return {"score": score, "auditRefs": [{"id": i, "weight": w} for i, w in refs]}


def test_lighthouse_summary_gives_scores_and_the_audits_that_cost_points():
    report = {
        "categories": {
            "performance": category(0.91, ("largest-contentful-paint", 25), ("cls", 25)),
            "accessibility": category(0.96, ("target-size", 7), ("color-contrast", 7)),
            "best-practices": category(1, ("errors-in-console", 1)),
            "seo": category(0.69, ("is-crawlable", 0), ("meta-description", 1)),
        },
        "audits": {
            "largest-contentful-paint": {"score": 0.7},
            "cls": {"score": 0.95},  # above the performance bar of 0.9: not listed
            "target-size": {"score": 0},
            "color-contrast": {"score": 1},
            "errors-in-console": {"score": None},  # not applicable
            "is-crawlable": {"score": 0},  # weight 0: costs nothing
            "meta-description": {"score": 0},
        },
    }

    summary = audit.lighthouse_summary(report)

    assert summary["scores"] == {
        "performance": 91,
        "accessibility": 96,
        "best-practices": 100,
        "seo": 69,
    }
    assert summary["failing"] == {
        "performance": ["largest-contentful-paint"],
        "accessibility": ["target-size"],
        "best-practices": [],
        "seo": ["meta-description"],
    }


def test_vnu_errors_are_counted_by_page_and_warnings_are_not():
    output = json.dumps(
        {
            "messages": [
                {"type": "error", "url": "file:/tmp/x/page0.html", "lastLine": 3, "message": "A"},
                {"type": "info", "subType": "warning", "url": "file:/tmp/x/page0.html"},
                {"type": "error", "url": "file:/tmp/x/page1.html", "lastLine": 9, "message": "B"},
            ]
        }
    )

    found = audit.vnu_errors(output, {"page0.html": "home", "page1.html": "cart", "p2": "x"})

    assert found == {"home": ["line 3: A"], "cart": ["line 9: B"], "x": []}
