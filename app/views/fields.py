"""Form fields where FAB's own fall short.

FAB's EnumField raises a bare ValueError (a 500) when an optional enum is
left blank or a request carries an unknown code; its date-time field refuses
the bare date its own date picker fills in.
"""

from flask_appbuilder.fieldwidgets import DateTimePickerWidget, Select2Widget
from flask_babel import lazy_gettext as _l
from wtforms import DateTimeField, SelectField
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


class LenientDateTimeField(DateTimeField):
    """A date-time that also accepts what the date picker fills in (a bare date)."""

    widget = DateTimePickerWidget()

    def __init__(self, label=None, required=False, **kwargs):
        super().__init__(
            label,
            validators=[DataRequired() if required else Optional()],
            format=["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
            **kwargs,
        )
