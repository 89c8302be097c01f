"""Every line a message logs names its actor and the generation, clip, job or file it works on."""

from __future__ import annotations

from dramatiq.middleware import Middleware

from config import logs
from generations import dispatch

# The name of each actor's first argument.
FIRST_ARGUMENT = {
    dispatch.SUBMIT_GENERATION: "generation_id",
    dispatch.POLL_GENERATION: "generation_id",
    dispatch.COPY_CLIP_MEDIA: "clip_id",
    dispatch.SUBMIT_JOB: "job_id",
    dispatch.POLL_JOB: "job_id",
    dispatch.COPY_JOB_FILE: "file_id",
    dispatch.DELIVER_WEBHOOK: "delivery_id",
}
# Give-ups receive the original message (as a dict) first.
GIVE_UPS = {
    dispatch.GIVE_UP_GENERATION: "generation_id",
    dispatch.GIVE_UP_CLIP_MEDIA: "clip_id",
    dispatch.GIVE_UP_JOB: "job_id",
    dispatch.GIVE_UP_JOB_FILE: "file_id",
}


def ids_of(actor_name: str, args: tuple | list) -> dict[str, str]:
    if not args:
        return {}
    if actor_name in FIRST_ARGUMENT:
        return {FIRST_ARGUMENT[actor_name]: args[0]}
    if actor_name in GIVE_UPS and isinstance(args[0], dict) and args[0].get("args"):
        return {GIVE_UPS[actor_name]: args[0]["args"][0]}
    return {}


class LogContext(Middleware):
    def before_process_message(self, broker, message):
        logs.clear()
        logs.bind(actor=message.actor_name, **ids_of(message.actor_name, message.args))

    def after_process_message(self, broker, message, *, result=None, exception=None):
        logs.clear()

    after_skip_message = after_process_message
