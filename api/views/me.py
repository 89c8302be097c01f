"""The caller, their plan and their usage."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers.me import MeSerializer
from api.serializers.problems import problem_responses
from generations.quotas import usage_for


class MeView(APIView):
    @extend_schema(
        operation_id="getMe",
        summary="You, your plan and your usage",
        description="How many generations you used this period, your limit, how many are in "
        "flight, and when the period resets.",
        responses={200: MeSerializer, **problem_responses(401)},
        tags=["me"],
    )
    def get(self, request):
        usage = usage_for(request.user)
        body = {"username": request.user.get_username(), "plan": usage.plan, "usage": usage}
        return Response(MeSerializer(body).data)
