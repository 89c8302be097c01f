from django.urls import path
from rest_framework.routers import SimpleRouter

from api.views.clips import ClipAudioView, ClipImageView, ClipView
from api.views.events import generation_events, user_events
from api.views.generations import GenerationViewSet
from api.views.hooks import MusicApiWebhookView
from api.views.jobs import (
    ClipLyricsTimelineView,
    ClipStemsView,
    ClipWavView,
    JobFileView,
    JobListView,
    JobView,
    LyricsView,
)
from api.views.me import MeView
from api.views.personas import PersonaListCreateView, PersonaView
from api.views.tokens import TokenViewSet
from api.views.uploads import UploadSourceView, UploadView
from api.views.webhooks import WebhookViewSet

router = SimpleRouter(trailing_slash=False)
router.register("generations", GenerationViewSet, basename="generation")
router.register("tokens", TokenViewSet, basename="token")
router.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns = [
    path("events", user_events, name="events"),
    path("generations/<uuid:pk>/events", generation_events, name="generation-events"),
    *router.urls,
    path("me", MeView.as_view(), name="me"),
    path("clips/<uuid:pk>", ClipView.as_view(), name="clip-detail"),
    path("clips/<uuid:pk>/audio", ClipAudioView.as_view(), name="clip-audio"),
    path("clips/<uuid:pk>/image", ClipImageView.as_view(), name="clip-image"),
    path("clips/<uuid:pk>/wav", ClipWavView.as_view(), name="clip-wav"),
    path("clips/<uuid:pk>/stems", ClipStemsView.as_view(), name="clip-stems"),
    path(
        "clips/<uuid:pk>/lyrics-timeline",
        ClipLyricsTimelineView.as_view(),
        name="clip-lyrics-timeline",
    ),
    path("lyrics", LyricsView.as_view(), name="lyrics"),
    path("uploads", UploadView.as_view(), name="uploads"),
    path(
        "uploads/<uuid:pk>/source.<str:extension>",
        UploadSourceView.as_view(),
        name="upload-source",
    ),
    path("jobs", JobListView.as_view(), name="job-list"),
    path("jobs/<uuid:pk>", JobView.as_view(), name="job-detail"),
    path("files/<uuid:pk>", JobFileView.as_view(), name="job-file"),
    path("personas", PersonaListCreateView.as_view(), name="persona-list"),
    path("personas/<uuid:pk>", PersonaView.as_view(), name="persona-detail"),
    path(
        "hooks/musicapi/<uuid:generation_id>",
        MusicApiWebhookView.as_view(),
        name="musicapi-webhook",
    ),
]
