"""Messages from the domain to the workers, sent by actor name.

The domain must not import `workers` (arrows point one way), so it names the actors here and
`workers.actors` registers its actors under these same names.
"""

from __future__ import annotations

import dramatiq

QUEUE = "generations"
SUBMIT_GENERATION = "submit_generation"
POLL_GENERATION = "poll_generation"
GIVE_UP_GENERATION = "give_up_generation"
COPY_CLIP_MEDIA = "copy_clip_media"


def send(actor_name: str, *args: str | int, delay_ms: int | None = None) -> dramatiq.Message:
    """Enqueue a message for `actor_name` on the generations queue; `delay_ms` in milliseconds."""
    message = dramatiq.Message(
        queue_name=QUEUE, actor_name=actor_name, args=args, kwargs={}, options={}
    )
    return dramatiq.get_broker().enqueue(message, delay=delay_ms)
