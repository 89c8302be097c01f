"""drf-spectacular extensions: the Bearer security scheme for our token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`mg_…`), created with `POST /api/v1/tokens` "
            "or `manage.py create_api_user`.",
        }
