"""Form fields FAB lacks: a select for a LabeledEnum that never raises on bad input.

FAB's own EnumField raises a bare ValueError (a 500) when an optional enum is
left blank or a request carries an unknown code.
"""

from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import DataRequired, Optional


class EnumSelectField(SelectField):
    widget = Select2Widget()

    def __init__(self, enum_class, label=None, required=False, **kwargs):
        self.enum_class = enum_class
        choices = [(member.name, member.value) for member in enum_class]
        if not required:
            choices.insert(0, ("", _l("(none)")))
        super().__init__(
            label,
            validators=[DataRequired() if required else Optional()],
            choices=choices,
            coerce=self._to_member,
            **kwargs,
        )

    def _to_member(self, value):
        if value is None or value == "" or isinstance(value, self.enum_class):
            return value or None
        try:
            return self.enum_class[value]
        except KeyError:
            raise ValueError(value) from None  # WTForms turns this into "Invalid choice"
