"""Serializer fields that take only what the OpenAPI schema says they take.

DRF's text fields also take numbers (``{"reason": 0}`` becomes ``"0"``) and its booleans take 1 and "yes":
a client that sent the wrong type learns it from a 400 instead of finding its value changed.
"""

from rest_framework import serializers


class _OnlyStrings:
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(_OnlyStrings, serializers.CharField):
    """Text, given as a JSON string."""


class StrictSlugField(_OnlyStrings, serializers.SlugField):
    """A key (letters, digits, - and _), given as a JSON string."""


class StrictBooleanField(serializers.BooleanField):
    """true or false, given as a JSON boolean (not 1, "yes" or "on")."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data
