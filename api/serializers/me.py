from rest_framework import serializers


class PlanSerializer(serializers.Serializer):
    name = serializers.CharField()
    period = serializers.ChoiceField(choices=["day", "month"])
    generations_per_period = serializers.IntegerField()
    max_in_flight = serializers.IntegerField()
    creates_per_minute = serializers.IntegerField()
    allowed_models = serializers.ListField(
        child=serializers.CharField(), help_text="Empty: every model."
    )
    allowed_operations = serializers.ListField(
        child=serializers.CharField(), help_text="Empty: every operation."
    )


class UsageSerializer(serializers.Serializer):
    used = serializers.IntegerField(help_text="Generations counted this period.")
    limit = serializers.IntegerField()
    remaining = serializers.IntegerField()
    in_flight = serializers.IntegerField(help_text="Generations not finished yet.")
    max_in_flight = serializers.IntegerField(source="plan.max_in_flight")
    period_start = serializers.DateTimeField()
    resets_at = serializers.DateTimeField(help_text="When `used` goes back to 0.")


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    plan = PlanSerializer()
    usage = UsageSerializer()
