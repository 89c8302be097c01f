"""The vendor's webhook receiver (only when PUBLIC_BASE_URL is set)."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers.problems import problem_responses
from generations.webhooks import webhook_receive


class MusicApiWebhookView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        operation_id="receiveMusicapiWebhook",
        summary="Vendor webhook receiver",
        description="For MusicAPI only: signed with the generation's secret "
        '(`X-Webhook-Signature: sha256=HMAC(secret, "{timestamp}.{body}")`). Triggers an '
        "immediate status check; polling remains the source of truth.",
        request=None,
        responses={204: None, **problem_responses(401, 404, 409)},
        tags=["hooks"],
    )
    def post(self, request, generation_id):
        if not settings.PUBLIC_BASE_URL:
            raise Http404
        webhook_receive(
            generation_id=generation_id,
            raw_body=request.body,
            event_id=request.headers.get("X-Webhook-Id", ""),
            timestamp=request.headers.get("X-Webhook-Timestamp", ""),
            signature=request.headers.get("X-Webhook-Signature", ""),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
