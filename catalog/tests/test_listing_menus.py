# ruff: noqa: E501 (the former template lines, quoted whole)
"""The listing's sort menus, page sizes and page links, built by tags (catalog_tags), print
the very bytes the template's loops printed: pages are unchanged, only cheaper to render."""

import pytest
from django.core.paginator import Paginator
from django.http import QueryDict
from django.template import engines
from django.utils import translation

from catalog.forms import PAGE_SIZES, SORT_LABELS

#: The loops as _listing.html had them, indentation included.
LOOPS = """{% load i18n %}<select>
          {% for value, label in sort_labels.items %}
            <option value="{{ value }}"{% if value == sort %} selected{% endif %}>{{ label }}</option>
          {% endfor %}
        </select>
{% for size in page_sizes %}<option value="{{ size }}"{% if size == page_size %} selected{% endif %}>{{ size }}</option>{% endfor %}
          <ul>
            {% if page_number > 1 %}<li><a href="{% querystring params page=page_number|add:'-1' %}" rel="prev">{% translate "Previous" %}</a></li>{% endif %}
            {% for number in page_range %}
              {% if number == paginator.ELLIPSIS %}<li><span aria-hidden="true">…</span></li>
              {% elif number == page_number %}<li><a aria-current="page" href="{% querystring params page=number %}">{{ number }}</a></li>
              {% else %}<li><a href="{% querystring params page=number %}">{{ number }}</a></li>{% endif %}
            {% endfor %}
            {% if page_number < paginator.num_pages %}<li><a href="{% querystring params page=page_number|add:'1' %}" rel="next">{% translate "Next" %}</a></li>{% endif %}
          </ul>"""

TAGS = """{% load catalog_tags %}<select>
          {% sort_options sort_labels sort %}
        </select>
{% page_size_options page_sizes page_size %}
          <ul>
            {% page_links params page_number page_range paginator.num_pages paginator.ELLIPSIS %}
          </ul>"""


@pytest.mark.parametrize("grouping", [False, True])
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(
    ("count", "page_number", "query", "sort", "page_size"),
    [
        (3_400, 1, "q=comfort", "relevance", 24),
        (3_400, 70, "q=comfort&sort=newest&page=70", "newest", 24),
        (3_400, 142, "q=comfort&page=142", "relevance", 24),
        (3_400, 5, "q=a%26b+%3Cc%3E&colour=red&colour=blue&page=5", "-price", 48),
        (30_000, 1_150, "page=1150", "price", 24),
        (100, 2, "", "top-rated", 96),
    ],
)
def test_the_tags_print_what_the_loops_printed(
    settings, grouping, language, count, page_number, query, sort, page_size
):
    settings.USE_THOUSAND_SEPARATOR = grouping  # page 1150 is "1,150"
    paginator = Paginator(range(count), page_size)
    context = {
        "sort_labels": SORT_LABELS,
        "sort": sort,
        "page_sizes": PAGE_SIZES,
        "page_size": page_size,
        "params": QueryDict(query),
        "page_number": page_number,
        "paginator": paginator,
    }
    engine = engines["django"]
    with translation.override(language):
        rendered = [
            engine.from_string(source).render(
                {**context, "page_range": paginator.get_elided_page_range(page_number)}
            )
            for source in (LOOPS, TAGS)
        ]
    assert rendered[0].split("<select>")[1] == rendered[1].split("<select>")[1]
    assert "…" in rendered[1] or count <= 100
    english_grouped = grouping and language == "en" and page_number == 1_150
    assert ("1,150" in rendered[1]) == english_grouped  # Chinese numbers are not grouped
