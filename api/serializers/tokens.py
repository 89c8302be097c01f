from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from api.fields import LabelField, UnknownFieldsRefused
from api.models import ApiToken


class TokenSerializer(serializers.ModelSerializer):
    expired = serializers.SerializerMethodField(help_text="True once expires_at has passed.")

    class Meta:
        model = ApiToken
        fields = ("id", "name", "prefix", "created_at", "last_used_at", "expires_at", "expired")
        read_only_fields = fields

    def get_expired(self, token: ApiToken) -> bool:
        return token.expires_at is not None and token.expires_at <= timezone.now()


class TokenCreateSerializer(UnknownFieldsRefused, serializers.Serializer):
    name = LabelField(max_length=100, help_text="What the token is for, e.g. 'iOS app'.")
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When it stops working (in the future). Omitted: never, or when the token "
        "making this request expires, if it does; it may not be later than that.",
    )

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        parent = self.context.get("parent")
        limit = getattr(parent, "expires_at", None)
        if value is not None and limit is not None and value > limit:
            raise serializers.ValidationError(
                f"Must be no later than the token you are using, which expires at "
                f"{limit.isoformat()}."
            )
        return value


class IssuedTokenSerializer(TokenSerializer):
    token = serializers.CharField(
        help_text="The secret: shown once, now. Send it as `Authorization: Bearer <token>`."
    )

    class Meta(TokenSerializer.Meta):
        fields = (*TokenSerializer.Meta.fields, "token")
        read_only_fields = fields
