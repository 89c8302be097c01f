"""Serializer fields that refuse JSON values of the wrong type instead of coercing them.

DRF's stock fields turn `123` into `"123"` and `"yes"` into `True`; a typed client should hear
that it sent the wrong type.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


# A request serializer that answers 400 to a field it does not know (a typo is not silently
# dropped). Its schema says so: `additionalProperties: false` (api.schema.close_request_bodies).
# (A comment, not a docstring: drf-spectacular would show a docstring in every such schema.)
class UnknownFieldsRefused:
    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


# Python's whitespace (what str.strip() removes), spelled out so that the schema's pattern means
# the same in every regex dialect.
_SPACES = "".join(f"\\u{code:04x}" for code in range(0x10000) if chr(code).isspace())
# A label people read back (a token's name): no NUL, and something besides whitespace.
LABEL_PATTERN = rf"^[^\u0000]*[^\u0000{_SPACES}][^\u0000]*$"


@extend_schema_field({"type": "string", "pattern": LABEL_PATTERN})
class LabelField(StrictCharField):
    """Trimmed when stored; `max_length` holds for the text as sent, as the schema's maxLength."""

    def to_internal_value(self, data):
        if isinstance(data, str) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


# Free text: anything but NUL (PostgreSQL cannot store it; DRF refuses it), as the schema says.
# One character or more: a blank value is the other branch of the `oneOf` drf-spectacular makes
# for an allow_blank field with a pattern, and "" must match exactly one branch.
TEXT_PATTERN = r"^[^\u0000]+$"


@extend_schema_field({"type": "string", "pattern": TEXT_PATTERN})
class TextField(StrictCharField):
    """A StrictCharField whose schema states that NUL is refused (a 400 the schema did not
    explain was a schema-valid request rejected)."""
