from django.conf import settings
from rest_framework import serializers

from generations.models import Operation


class PlanSerializer(serializers.Serializer):
    name = serializers.CharField()
    period = serializers.ChoiceField(choices=["day", "month"])
    credits_per_period = serializers.IntegerField(help_text="Credits you may spend per period.")
    max_in_flight = serializers.IntegerField(help_text="Operations in progress at once.")
    creates_per_minute = serializers.IntegerField()
    allowed_models = serializers.SerializerMethodField(help_text="The models you may use.")
    allowed_operations = serializers.SerializerMethodField(
        help_text="The operations (create, extend, cover, concat, persona_music, upload) you "
        "may ask for."
    )

    # A plan stores "no restriction" as an empty list; the caller sees what that means.
    def get_allowed_models(self, plan) -> list[str]:
        return list(plan.allowed_models) or list(settings.MUSIC_MODELS)

    def get_allowed_operations(self, plan) -> list[str]:
        return list(plan.allowed_operations) or list(Operation.values)


class UsageSerializer(serializers.Serializer):
    used = serializers.IntegerField(
        help_text="Credits spent or held by operations in progress this period."
    )
    limit = serializers.IntegerField(help_text="Credits per period.")
    remaining = serializers.IntegerField(help_text="Your balance: credits left this period.")
    in_flight = serializers.IntegerField(help_text="Operations not finished yet.")
    max_in_flight = serializers.IntegerField(source="plan.max_in_flight")
    period_start = serializers.DateTimeField()
    resets_at = serializers.DateTimeField(help_text="When `used` goes back to 0.")


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    plan = PlanSerializer()
    usage = UsageSerializer()
    prices = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="What each operation costs, in credits: create, extend, cover, "
        "persona_music, concat, wav, stems_basic, stems_full, lyrics_timeline, lyrics, "
        "upload, persona.",
    )
    events_url = serializers.URLField(
        help_text="Short-lived signed URL of `GET /api/v1/events` (all your generations, live), "
        "for `EventSource`, which cannot send headers. It works as long as your other signed "
        "links (MEDIA_URL_MAX_AGE_S) and while this token is live."
    )
