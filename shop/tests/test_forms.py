"""shop.forms: a form copies only the fields it changes, and shares the rest unchanged."""

from django import forms

from shop.forms import CopiesChangedFields


class Example(CopiesChangedFields, forms.Form):
    changed_fields = ("size",)

    name = forms.CharField(max_length=5)
    size = forms.ChoiceField()
    note = forms.CharField(required=False)

    def __init__(self, *args, sizes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["size"].choices = [(size, size) for size in sizes]


def test_a_changed_field_is_each_forms_own_and_the_others_the_classes():
    small, large = Example(sizes=["S"]), Example(sizes=["L"])

    assert small.fields["size"] is not large.fields["size"]
    assert list(small.fields["size"].choices) == [("S", "S")]
    assert list(large.fields["size"].choices) == [("L", "L")]
    assert Example.base_fields["size"].choices == []
    assert small.fields["name"] is large.fields["name"] is Example.base_fields["name"]


def test_the_fields_keep_the_classes_order_and_leave_out_the_unasked():
    form = Example(unasked={"note"})

    assert list(form.fields) == ["name", "size"]
    assert list(Example.base_fields) == ["name", "size", "note"]


def test_shared_fields_bind_clean_and_render_as_copies_do():
    posted = Example({"name": "toolong", "size": "M"}, sizes=["M"])
    other = Example({"name": "ok", "size": "M"}, sizes=["M"])

    assert not posted.is_valid() and "name" in posted.errors
    assert other.is_valid() and other.cleaned_data == {"name": "ok", "size": "M", "note": ""}
    assert 'maxlength="5"' in str(posted["name"]) and 'value="toolong"' in str(posted["name"])
    assert 'value="ok"' in str(other["name"])
