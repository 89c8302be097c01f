from rest_framework.routers import SimpleRouter

from api.views.generations import GenerationViewSet
from api.views.tokens import TokenViewSet

router = SimpleRouter(trailing_slash=False)
router.register("generations", GenerationViewSet, basename="generation")
router.register("tokens", TokenViewSet, basename="token")

urlpatterns = router.urls
