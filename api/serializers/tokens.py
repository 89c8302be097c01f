from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from api.fields import StrictCharField
from api.models import ApiToken


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ("id", "name", "prefix", "created_at", "last_used_at", "expires_at")
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100, help_text="What the token is for, e.g. 'iOS app'.")
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When it stops working; never when omitted."
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value


class IssuedTokenSerializer(TokenSerializer):
    token = serializers.CharField(
        help_text="The secret: shown once, now. Send it as `Authorization: Bearer <token>`."
    )

    class Meta(TokenSerializer.Meta):
        fields = (*TokenSerializer.Meta.fields, "token")
        read_only_fields = fields
