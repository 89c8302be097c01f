"""The caller's personal API tokens."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from api import tokens
from api.models import ApiToken
from api.serializers.problems import problem_responses
from api.serializers.tokens import IssuedTokenSerializer, TokenCreateSerializer, TokenSerializer


@extend_schema_view(
    list=extend_schema(
        operation_id="listTokens",
        summary="List your API tokens",
        description="Every token not revoked, with `expired` set once it stopped working; "
        "secrets are never shown again, only their prefix.",
        responses={200: TokenSerializer(many=True), **problem_responses(401)},
    ),
    destroy=extend_schema(
        operation_id="revokeToken",
        summary="Revoke an API token",
        description="The token stops working at once.",
        responses={204: None, **problem_responses(401, 404)},
    ),
)
class TokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = TokenSerializer
    pagination_class = None
    queryset = ApiToken.objects.none()

    def get_queryset(self):
        return tokens.token_list(user=self.request.user)

    @extend_schema(
        operation_id="createToken",
        summary="Create an API token",
        description="The response holds the secret **once**; store it now. A token expires no "
        "later than the token that created it (it inherits that expiry when none is given). "
        "At most `API_TOKENS_PER_USER_MAX` (50) unrevoked tokens per user: 409 beyond.",
        request=TokenCreateSerializer,
        responses={201: IssuedTokenSerializer, **problem_responses(400, 401, 409)},
    )
    def create(self, request):
        serializer = TokenCreateSerializer(data=request.data, context={"parent": request.auth})
        serializer.is_valid(raise_exception=True)
        issued = tokens.token_create(
            user=request.user,
            parent=request.auth,
            limit=settings.API_TOKENS_PER_USER_MAX,
            **serializer.validated_data,
        )
        body = {**TokenSerializer(issued.token).data, "token": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        tokens.token_revoke(token=instance)
