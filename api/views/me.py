"""The caller, their plan, their credits and the price of each operation."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers.me import MeSerializer
from api.serializers.problems import problem_responses
from api.signing import grant_issue, signed_url
from generations.quotas import prices, usage_for

ME_EXAMPLE = {
    "username": "alice",
    "plan": {
        "name": "free",
        "period": "day",
        "credits_per_period": 300,
        "max_in_flight": 3,
        "creates_per_minute": 10,
        "allowed_models": ["sonic-v3-5", "sonic-v4", "sonic-v4-5", "sonic-v4-5-plus", "sonic-v5"],
        "allowed_operations": ["create", "extend", "cover"],
    },
    "usage": {
        "used": 32,
        "limit": 300,
        "remaining": 268,
        "in_flight": 1,
        "max_in_flight": 3,
        "period_start": "2026-11-25T00:00:00Z",
        "resets_at": "2026-11-26T00:00:00Z",
    },
    "prices": {
        "create": 15,
        "extend": 15,
        "cover": 15,
        "persona_music": 15,
        "concat": 2,
        "wav": 2,
        "stems_basic": 15,
        "stems_full": 75,
        "lyrics_timeline": 1,
        "lyrics": 10,
        "upload": 2,
        "persona": 1,
    },
    "events_url": "https://api.example.com/api/v1/events?sig=3b172d6f988d46ef854863979ad57e18:1xWMVw:SCpZ",
}


class MeView(APIView):
    @extend_schema(
        operation_id="getMe",
        summary="You, your plan, your credits and the prices",
        description="Your plan gives credits per period; each operation costs the credits "
        "`prices` names (a song 15, a WAV 2, full stems 75...). `usage` says how many you used "
        "this period (what operations in progress hold counts), your balance (`remaining`), "
        "how many operations are in flight, and when the period resets.",
        examples=[OpenApiExample("Two songs and a WAV into the day", value=ME_EXAMPLE)],
        responses={200: MeSerializer, **problem_responses(401)},
        tags=["me"],
    )
    def get(self, request):
        usage = usage_for(request.user)
        body = {
            "username": request.user.get_username(),
            "plan": usage.plan,
            "usage": usage,
            "prices": prices(),
            "events_url": signed_url(
                request, request.user.pk, "stream", grant_issue(request.auth.pk.hex)
            ),
        }
        return Response(MeSerializer(body).data)
