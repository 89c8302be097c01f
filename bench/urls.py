"""The floor for `bench.creates`: the cheapest DRF endpoint with the same token authentication.

Served only by the benchmark's web processes (DJANGO_SETTINGS_MODULE=bench.settings): every URL
of the service plus `POST /bench/floor`, which authenticates the Bearer token (the same class and
token lookup as every API view), parses the JSON body and answers 202, touching nothing else.
What a create costs beyond it is ours.
"""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as service_urls


class Floor(APIView):
    def post(self, request):
        return Response({"ok": bool(request.data)}, status=202)


urlpatterns = [path("bench/floor", Floor.as_view()), *service_urls]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
