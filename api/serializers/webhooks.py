from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from generations.models import EventType, WebhookDelivery, WebhookEndpoint

ENDPOINT_EXAMPLE = {
    "id": "5b0f3c57-2a4e-4a65-9d57-1d1b0a3c9e10",
    "url": "https://example.com/hooks/music",
    "events": ["generation.succeeded", "generation.failed"],
    "enabled": True,
    "created_at": "2026-11-25T12:00:00Z",
    "disabled_at": None,
    "disabled_reason": "",
}
DISABLED_EXAMPLE = {
    **ENDPOINT_EXAMPLE,
    "enabled": False,
    "disabled_at": "2026-11-26T02:14:09Z",
    "disabled_reason": "100 failed attempts in a row",
}
OWNER_DISABLED_EXAMPLE = {
    **DISABLED_EXAMPLE,
    "disabled_reason": "Disabled by its owner.",
}


@extend_schema_serializer(
    examples=[
        OpenApiExample("An endpoint", value=ENDPOINT_EXAMPLE),
        OpenApiExample(
            "Disabled after a long run of failures", value=DISABLED_EXAMPLE, response_only=True
        ),
    ]
)
class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        source="event_types",
        child=serializers.ChoiceField(choices=EventType.choices),
        required=False,
        default=list,
        help_text="Event types to send; empty or absent: every type.",
    )
    url = serializers.CharField(
        max_length=2000,
        help_text="https, resolving to public addresses only (unless the operator allows it "
        "in WEBHOOK_ALLOWED_HOSTS); at most 2,000 characters.",
    )

    enabled = serializers.BooleanField(
        read_only=True,
        help_text="false once disabled (after a long run of failures, or by you): nothing is "
        "sent and its deliveries are held until `POST /webhooks/{id}/enable`.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("id", "url", "events", "enabled", "created_at", "disabled_at", "disabled_reason")
        read_only_fields = ("id", "enabled", "created_at", "disabled_at", "disabled_reason")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "The secret, shown once",
            value={**ENDPOINT_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
            response_only=True,
        )
    ]
)
class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="`whsec_` and base64: verify `webhook-signature` with it (Standard Webhooks). "
        "Shown only when created or rotated.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.SerializerMethodField(help_text="`evt_<n>`: the `webhook-id` sent.")
    type = serializers.CharField(source="event.type")

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "event_id",
            "type",
            "status",
            "attempts",
            "response_status",
            "error",
            "last_attempt_at",
            "next_attempt_at",
            "created_at",
        )
        # Output only. Read-only also keeps the integer fields free of the database's own
        # range (int64 on SQLite, int32 on PostgreSQL): one schema whatever the backend.
        read_only_fields = fields

    def get_event_id(self, delivery: WebhookDelivery) -> str:
        return f"evt_{delivery.event_id}"
