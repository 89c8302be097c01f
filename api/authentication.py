"""`Authorization: Bearer <token>` with a personal API token."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from api.tokens import token_authenticate
from config import logs


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Bearer <token>'."
            )
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("The token is not valid.") from exc
        token = token_authenticate(secret=secret)
        if token is None:
            raise exceptions.AuthenticationFailed("The token is not valid, expired or revoked.")
        logs.bind(user_id=token.user_id)
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) with a WWW-Authenticate challenge.
        return f'{self.keyword} realm="api"'
