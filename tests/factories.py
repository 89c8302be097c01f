import factory

from generations.models import Clip, ClipState, Generation


class GenerationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Generation

    description = factory.Sequence(lambda n: f"song number {n}")
    model = "sonic-v5"


class ClipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clip

    generation = factory.SubFactory(GenerationFactory)
    vendor_clip_id = factory.Sequence(lambda n: f"vendor-clip-{n}")
    state = ClipState.SUCCEEDED
    title = "A song"
    duration = 120.0
    model = "sonic-v5"
