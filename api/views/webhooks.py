"""The caller's outbound webhook endpoints (Standard Webhooks) and their deliveries."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api.serializers.problems import problem_responses
from api.serializers.webhooks import (
    ENDPOINT_EXAMPLE,
    OWNER_DISABLED_EXAMPLE,
    WebhookDeliverySerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)
from generations import outbound
from generations.models import WebhookDelivery, WebhookEndpoint

SIGNING = (
    "Each delivery is a POST of an `Event` (JSON: `id`, `type`, `timestamp`, `data` the "
    "generation without links) with `webhook-id` (the event's `evt_<n>`, the same on every "
    "retry and on the SSE streams), `webhook-timestamp` (Unix seconds) and `webhook-signature: "
    'v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">` keyed with the '
    "base64-decoded part of the secret after `whsec_` (the Standard Webhooks spec: any of its "
    "libraries verifies it). A 2xx is delivered; anything else is retried after 5 s, 5 min, "
    "30 min, 2 h, 5 h and 10 h, for up to 24 h. WEBHOOK_DISABLE_AFTER_FAILURES failed attempts "
    "in a row disable the endpoint (`POST /webhooks/{id}/enable` turns it on again)."
)


@extend_schema_view(
    list=extend_schema(
        operation_id="listWebhooks",
        summary="List your webhook endpoints",
        description="Secrets are never shown again.",
        responses={200: WebhookEndpointSerializer(many=True), **problem_responses(401)},
    ),
    retrieve=extend_schema(
        operation_id="getWebhook",
        summary="One of your webhook endpoints",
        description="Its URL, event filter, and whether it was disabled (and why); never the "
        "secret.",
        responses={200: WebhookEndpointSerializer, **problem_responses(401, 404)},
    ),
    destroy=extend_schema(
        operation_id="deleteWebhook",
        summary="Delete a webhook endpoint",
        description="Nothing more is sent to it, pending retries included.",
        responses={204: None, **problem_responses(401, 404)},
    ),
)
class WebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = WebhookEndpointSerializer
    pagination_class = None
    queryset = WebhookEndpoint.objects.none()

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(owner=self.request.user)

    @extend_schema(
        operation_id="createWebhook",
        summary="Register a webhook endpoint",
        description="Your server hears about your generations without polling. The answer holds "
        "the signing secret **once**. " + SIGNING,
        request=WebhookEndpointSerializer,
        responses={
            201: WebhookEndpointWithSecretSerializer,
            **problem_responses(400, 401, 409),
        },
    )
    def create(self, request):
        serializer = WebhookEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = outbound.endpoint_create(
            owner=request.user,
            url=serializer.validated_data["url"],
            event_types=serializer.validated_data["event_types"],
        )
        body = WebhookEndpointWithSecretSerializer(endpoint).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="rotateWebhookSecret",
        summary="Rotate a webhook endpoint's secret",
        description="A new secret signs every attempt from now on; the answer holds it once.",
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer, **problem_responses(401, 404)},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = outbound.endpoint_rotate_secret(endpoint=self.get_object())
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)

    @extend_schema(
        operation_id="enableWebhook",
        summary="Re-enable a webhook endpoint",
        description="Turns on an endpoint that was disabled (after a long run of failed "
        "attempts, or by you), once its URL still passes the rules (else 400 naming the rule, "
        "and it stays disabled). Its held deliveries (pending when it was disabled, and one "
        "per event since) are sent again with the same `webhook-id` if their event is less than "
        "24 h old; older ones are marked failed. Enabling an enabled endpoint changes nothing.",
        request=None,
        responses={200: WebhookEndpointSerializer, **problem_responses(400, 401, 404)},
        examples=[OpenApiExample("Enabled again", value=ENDPOINT_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        endpoint = outbound.endpoint_enable(endpoint=self.get_object())
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="disableWebhook",
        summary="Disable a webhook endpoint",
        description="Nothing is sent to it until it is enabled again; deliveries are held "
        "meanwhile (see enableWebhook). Disabling a disabled endpoint keeps its first reason.",
        request=None,
        responses={200: WebhookEndpointSerializer, **problem_responses(401, 404)},
        examples=[
            OpenApiExample("Disabled by you", value=OWNER_DISABLED_EXAMPLE, response_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        endpoint = outbound.endpoint_disable(endpoint=self.get_object())
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="listWebhookDeliveries",
        summary="A webhook endpoint's delivery attempts",
        description="Newest first, the latest 100: each event's status (`held`: not sent while "
        "the endpoint is disabled), attempts, the receiver's last HTTP status or error, and "
        "when the next attempt is due.",
        responses={200: WebhookDeliverySerializer(many=True), **problem_responses(401, 404)},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        rows = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event")[:100]
        return Response(WebhookDeliverySerializer(rows, many=True).data)

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        outbound.endpoint_delete(endpoint=instance)
