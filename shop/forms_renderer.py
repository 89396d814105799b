"""The form renderer: Django's, with its most rendered small templates written in Python.

Every field of a form renders three to six tiny templates (its label, its widget, the
widget's attributes, its error list), each through the template engine: about 1 ms of CPU
a field, half of the checkout page's rendering for its twelve fields. The templates below
are Django's own (django/forms/templates/django/forms/...), written out here with the same
output, byte for byte: the same escaping (`render_value_in_context`), `stringformat:'s'`
keeping what was safe, the same newlines where one template includes another, and the
renderer's strip. Anything the Python versions do not handle exactly as the template would
(a callable value, which a template calls; an attribute named "items") goes to the
template, as does every other template name, and a template that a project or app
overrides is never replaced (`replaced_templates`). shop/tests/test_forms_renderer.py
renders every form of the shop both ways and compares.
"""

from pathlib import Path

import django.forms
from django.forms.renderers import DjangoTemplates
from django.template import Context
from django.template.base import render_value_in_context
from django.utils.functional import cached_property
from django.utils.safestring import SafeData, mark_safe

#: autoescape on, localisation and time zones as the settings say: a template's context.
_CONTEXT = Context(autoescape=True)
_DJANGO_TEMPLATES = Path(django.forms.__file__).parent / "templates"


class Unplain(Exception):
    """A value the Python version would not render exactly as the template does."""


def _out(value) -> str:
    """`{{ value }}`."""
    if callable(value):
        raise Unplain
    return render_value_in_context(value, _CONTEXT)


def _stringformat(value):
    """`value|stringformat:'s'` (the filter is_safe: a safe value stays safe)."""
    if callable(value):
        raise Unplain
    if isinstance(value, tuple):
        value = str(value)
    try:
        formatted = "%s" % value  # noqa: UP031 - the filter's own formatting
    except (ValueError, TypeError):
        return ""
    return mark_safe(formatted) if isinstance(value, SafeData) else formatted  # noqa: S308


def _attrs(attrs) -> str:
    """django/forms/widgets/attrs.html and django/forms/attrs.html (the same loop)."""
    if not attrs:
        return ""
    if not isinstance(attrs, dict) or "items" in attrs:
        raise Unplain
    parts = []
    for name, value in attrs.items():
        if callable(value):
            raise Unplain
        if value is not False:
            parts.append(" " + _out(name))
            if value is not True:
                parts.append('="' + _out(_stringformat(value)) + '"')
    return "".join(parts)


def _input(widget) -> str:
    """django/forms/widgets/input.html, with its closing newline."""
    value = widget["value"]
    shown = f' value="{_out(_stringformat(value))}"' if value is not None else ""
    return (
        f'<input type="{_out(widget["type"])}" name="{_out(widget["name"])}"{shown}'
        f"{_attrs(widget['attrs'])}>\n"
    )


def _input_option(widget) -> str:
    """django/forms/widgets/input_option.html (radio_option.html and checkbox_option.html
    include it), with its closing newline."""
    wrap = bool(widget.get("wrap_label"))
    html = ""
    if wrap:
        element_id = widget["attrs"].get("id") if isinstance(widget["attrs"], dict) else None
        html += f' for="{_out(element_id)}"' if element_id else ""
        html = f"<label{html}>"
    html += _input(widget)
    if wrap:
        html += f" {_out(widget['label'])}</label>"
    return html + "\n"


def _label(context) -> str:
    """django/forms/label.html."""
    if context.get("use_tag"):
        tag = _out(context.get("tag", ""))
        return f"<{tag}{_attrs(context.get('attrs'))}>{_out(context['label'])}</{tag}>\n"
    return _out(context["label"]) + "\n"


def _error_list(context) -> str:
    """django/forms/errors/list/default.html, which includes .../ul.html."""
    errors = context["errors"]
    if not errors:
        return ""
    field_id = getattr(errors, "field_id", None)
    shown_id = f' id="{_out(field_id)}_error"' if field_id else ""
    items = "".join(f"<li>{_out(error)}</li>" for error in errors)
    return f'<ul class="{_out(context["error_class"])}"{shown_id}>{items}</ul>'


_INPUTS = [
    "checkbox",
    "color",
    "date",
    "datetime",
    "email",
    "file",
    "hidden",
    "number",
    "password",
    "search",
    "tel",
    "text",
    "time",
    "url",
]
#: Template name -> its Python version (given the template's context).
WRITTEN = {
    **{f"django/forms/widgets/{name}.html": lambda c: _input(c["widget"]) for name in _INPUTS},
    "django/forms/widgets/input.html": lambda c: _input(c["widget"]),
    "django/forms/widgets/input_option.html": lambda c: _input_option(c["widget"]),
    "django/forms/widgets/radio_option.html": lambda c: _input_option(c["widget"]),
    "django/forms/widgets/checkbox_option.html": lambda c: _input_option(c["widget"]),
    "django/forms/label.html": _label,
    "django/forms/errors/list/default.html": _error_list,
    "django/forms/errors/list/ul.html": _error_list,
}
#: The templates each Python version stands for: all must be Django's own for it to be used.
_MADE_OF = {
    **{
        f"django/forms/widgets/{name}.html": (
            f"django/forms/widgets/{name}.html",
            "django/forms/widgets/input.html",
            "django/forms/widgets/attrs.html",
        )
        for name in _INPUTS
    },
    "django/forms/widgets/input.html": (
        "django/forms/widgets/input.html",
        "django/forms/widgets/attrs.html",
    ),
    **{
        f"django/forms/widgets/{name}.html": (
            f"django/forms/widgets/{name}.html",
            "django/forms/widgets/input_option.html",
            "django/forms/widgets/input.html",
            "django/forms/widgets/attrs.html",
        )
        for name in ("input_option", "radio_option", "checkbox_option")
    },
    "django/forms/label.html": ("django/forms/label.html", "django/forms/attrs.html"),
    "django/forms/errors/list/default.html": (
        "django/forms/errors/list/default.html",
        "django/forms/errors/list/ul.html",
    ),
    "django/forms/errors/list/ul.html": ("django/forms/errors/list/ul.html",),
}


class ShopFormRenderer(DjangoTemplates):
    """Django's DjangoTemplates form renderer; the templates in WRITTEN in Python."""

    @cached_property
    def written(self) -> dict:
        """WRITTEN, less any template this renderer's engine finds elsewhere than in
        Django's own folder (an app that overrides it)."""
        replaced = self.replaced_templates()
        return {
            name: render
            for name, render in WRITTEN.items()
            if not replaced.intersection(_MADE_OF[name])
        }

    def replaced_templates(self) -> set[str]:
        names = {name for made_of in _MADE_OF.values() for name in made_of}
        replaced = set()
        for name in names:
            origin = self.get_template(name).template.origin
            if Path(origin.name).resolve() != (_DJANGO_TEMPLATES / name).resolve():
                replaced.add(name)
        return replaced

    def render(self, template_name, context, request=None):
        written = self.written.get(template_name)
        if written is not None:
            try:
                return written(context).strip()
            except (Unplain, KeyError):
                pass  # the template then says what it shows
        return super().render(template_name, context, request=request)
