"""Forms that copy only the fields they change."""

from collections.abc import Collection


class CopiesChangedFields:
    """Mixed in before Django's form class: each form deep-copies only the fields named in
    `changed_fields`, the ones it changes for itself (choices, labels, required, widgets),
    and shares the class's other fields with every form. Django deep-copies every field with
    its widget, validators and choices for each form: a third of building and validating a
    posted checkout form. Binding, cleaning and rendering only read a field, so a field not
    named here must never be changed on a form (nor have `limit_choices_to`, which a model
    form applies to its copies). `unasked`: fields this form leaves out."""

    changed_fields: Collection[str] = ()

    def __init__(self, *args, unasked: Collection[str] = (), **kwargs):
        fields = {
            name: field for name, field in type(self).base_fields.items() if name not in unasked
        }
        self.base_fields = {
            name: field for name, field in fields.items() if name in self.changed_fields
        }
        super().__init__(*args, **kwargs)
        copies = self.fields
        self.fields = {name: copies.get(name, field) for name, field in fields.items()}
