"""The domain's tables: a generation (one request for music) and the clips it produced."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class Mode(models.TextChoices):
    DESCRIPTION = "description"
    CUSTOM = "custom"


class Operation(models.TextChoices):
    CREATE = "create"
    EXTEND = "extend"
    COVER = "cover"
    # Merge an extension with what it extended into the full song (the vendor's extend
    # returns only the new part).
    CONCAT = "concat"
    # A song sung in the voice of one of the user's personas (custom mode).
    PERSONA_MUSIC = "persona_music"
    # The user's own audio made a vendor clip (POST /uploads): one clip, our copy of the file.
    UPLOAD = "upload"


class Status(models.TextChoices):
    QUEUED = "queued"
    # Internal: a worker holds the submission; shown to clients as queued.
    SUBMITTING = "submitting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED})
IN_FLIGHT_STATUSES = (Status.QUEUED, Status.SUBMITTING, Status.RUNNING)


class ErrorCode(models.TextChoices):
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"
    TIMED_OUT = "timed_out"
    INTERNAL = "internal"
    # The vendor never answered the create (timeout, dropped connection, a worker that died
    # mid-call): it may have spent the credits, so the unit is charged and nothing is re-sent.
    UNCONFIRMED = "unconfirmed"


class VocalGender(models.TextChoices):
    FEMALE = "f"
    MALE = "m"


class Generation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations"
    )

    # What was asked for.
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.DESCRIPTION)
    operation = models.CharField(max_length=16, choices=Operation.choices, default=Operation.CREATE)
    description = models.TextField(blank=True)
    lyrics = models.TextField(blank=True)
    title = models.CharField(max_length=200, blank=True)
    tags = models.CharField(max_length=400, blank=True)
    negative_tags = models.CharField(max_length=400, blank=True)
    auto_lyrics = models.BooleanField(default=False)
    instrumental = models.BooleanField(default=False)
    model = models.CharField(max_length=32)
    vocal_gender = models.CharField(max_length=1, choices=VocalGender.choices, blank=True)
    source_clip = models.ForeignKey(
        "Clip", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived"
    )
    continue_at = models.FloatField(null=True, blank=True)
    persona = models.ForeignKey(
        "Persona", null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )

    # Where it stands.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    vendor_task_id = models.CharField(max_length=128, blank=True)
    # Workers' bookkeeping: when the next step is due (the reconciler looks for overdue ones),
    # which poll message is current (older duplicates are dropped), how often submission was
    # attempted, and the per-generation secret that signs vendor webhooks.
    next_check_at = models.DateTimeField(null=True, blank=True)
    poll_seq = models.PositiveIntegerField(default=0)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    webhook_secret = models.CharField(max_length=64, blank=True)
    error_code = models.CharField(max_length=16, choices=ErrorCode.choices, blank=True)
    error_detail = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="generation_owner_recent"),
            models.Index(fields=["status", "next_check_at"], name="generation_status_due"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class ClipState(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    STREAMING = "streaming"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# A streaming clip's audio is already playable (unfinished); a succeeded one is final.
PLAYABLE_CLIP_STATES = (ClipState.STREAMING, ClipState.SUCCEEDED)


class MediaState(models.TextChoices):
    PENDING = "pending"  # not copied yet
    READY = "ready"  # in our storage, served by us
    FAILED = "failed"  # refused (unsafe URL, too large, wrong type): see media_error


class Clip(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="clips")
    vendor_clip_id = models.CharField(max_length=128)
    state = models.CharField(max_length=16, choices=ClipState.choices, default=ClipState.PENDING)
    title = models.CharField(max_length=200, blank=True)
    tags = models.CharField(max_length=400, blank=True)
    lyrics = models.TextField(blank=True)
    duration = models.FloatField(null=True, blank=True)
    model = models.CharField(max_length=32, blank=True)
    error_detail = models.TextField(blank=True)
    # The vendor's CDN links: internal, never shown to clients.
    vendor_audio_url = models.URLField(max_length=1000, blank=True)
    vendor_image_url = models.URLField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Our copy of the media, in Django storage.
    media_state = models.CharField(
        max_length=8, choices=MediaState.choices, default=MediaState.PENDING
    )
    media_error = models.TextField(blank=True)
    audio_file = models.FileField(max_length=300, blank=True)
    audio_type = models.CharField(max_length=100, blank=True)
    audio_sha256 = models.CharField(max_length=64, blank=True)
    image_file = models.FileField(max_length=300, blank=True)
    image_type = models.CharField(max_length=100, blank=True)
    image_sha256 = models.CharField(max_length=64, blank=True)
    media_copied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "vendor_clip_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "vendor_clip_id"], name="clip_unique_per_generation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title or self.vendor_clip_id} ({self.state})"


# --- jobs: what a clip (or a description) is turned into besides songs --------------------------


class JobKind(models.TextChoices):
    WAV = "wav"
    STEMS_BASIC = "stems_basic"  # vocals + instrumental
    STEMS_FULL = "stems_full"  # up to 12 tracks
    LYRICS_TIMELINE = "lyrics_timeline"  # word/line timings of the clip's lyrics
    LYRICS = "lyrics"  # two title + lyrics drafts from a description (no clip)
    PERSONA = "persona"  # a voice and style made from the clip, to generate with (a Persona)


# Kinds made from one of the user's clips; their results are files or a timeline on that clip.
CLIP_JOB_KINDS = (
    JobKind.WAV,
    JobKind.STEMS_BASIC,
    JobKind.STEMS_FULL,
    JobKind.LYRICS_TIMELINE,
    JobKind.PERSONA,
)
FILE_JOB_KINDS = (JobKind.WAV, JobKind.STEMS_BASIC, JobKind.STEMS_FULL)
# Kinds a clip has at most one of (asking again returns it): one clip can give several personas.
ONE_PER_CLIP_KINDS = (*FILE_JOB_KINDS, JobKind.LYRICS_TIMELINE)


class Job(models.Model):
    """One asynchronous vendor operation that is not a song: submitted and polled by workers
    like a generation (same statuses, same error codes), settled against the quota once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    # The clip it was made from; the job outlives a deleted clip so its reservation still
    # settles (the vendor id is copied, so workers never need the clip row).
    clip = models.ForeignKey(
        Clip, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    vendor_clip_id = models.CharField(max_length=128, blank=True)
    description = models.CharField(max_length=400, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    vendor_task_id = models.CharField(max_length=128, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    poll_seq = models.PositiveIntegerField(default=0)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=16, choices=ErrorCode.choices, blank=True)
    error_detail = models.TextField(blank=True)
    # Results that are data, not files: the timeline's segments, the lyrics drafts.
    result = models.JSONField(default=dict, blank=True)
    # The credits held from acceptance; `settled` flips once, with the terminal move.
    reservation = models.ForeignKey(
        "LedgerEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    settled = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="job_owner_recent"),
            models.Index(fields=["status", "next_check_at"], name="job_status_due"),
        ]
        constraints = [
            # One live (or finished) job per clip and kind: asking again returns it, costs
            # nothing. A failed one does not count, so it can be asked for again. Personas are
            # not outputs of the clip but the user's own named things: a clip may give several.
            models.UniqueConstraint(
                fields=["clip", "kind"],
                condition=~models.Q(status="failed")
                & models.Q(clip__isnull=False)
                & ~models.Q(kind="persona"),
                name="job_one_per_clip_and_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class JobFile(models.Model):
    """A file a job produced (the WAV, one stem), copied into our storage like clip audio."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=64)  # "wav", "vocals", "drums", ...
    position = models.PositiveSmallIntegerField(default=0)
    vendor_url = models.URLField(max_length=1000)  # internal, never shown to clients
    media_state = models.CharField(
        max_length=8, choices=MediaState.choices, default=MediaState.PENDING
    )
    media_error = models.TextField(blank=True)
    file = models.FileField(max_length=300, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    copied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="job_file_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} of {self.job_id}"


class Persona(models.Model):
    """A voice and style the vendor made from one of the user's clips, to generate songs with
    (`Operation.PERSONA_MUSIC`). Made by its job (kind persona): its status is the job's, and the
    vendor's persona id is the job's result (internal, never shown)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personas"
    )
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="persona")
    # The clip it was made from; the persona outlives its song (the vendor keeps it).
    clip = models.ForeignKey(
        Clip, null=True, blank=True, on_delete=models.SET_NULL, related_name="personas"
    )
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=200, blank=True)
    styles = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="persona_owner_recent")]

    def __str__(self) -> str:
        return f"{self.name} ({self.job.status if self.job_id else 'new'})"

    @property
    def vendor_persona_id(self) -> str:
        return (self.job.result or {}).get("persona_id", "") if self.job_id else ""


# --- plans, usage and idempotency ----------------------------------------------------------------


class Period(models.TextChoices):
    DAY = "day"
    MONTH = "month"


class Plan(models.Model):
    """What a user may spend: credits per period (each operation's price is a setting,
    CREDIT_COSTS), and counts for the rest. Whole numbers; 0 means nothing is allowed."""

    name = models.SlugField(max_length=50, unique=True)
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.DAY)
    credits_per_period = models.PositiveIntegerField(
        default=300, help_text="Credits a user may spend per period (a song costs 15 by default)."
    )
    max_in_flight = models.PositiveIntegerField(
        default=3, help_text="Operations in progress at once (each counts 1, whatever it costs)."
    )
    creates_per_minute = models.PositiveIntegerField(default=10)
    # Empty means every model / operation the service offers.
    allowed_models = models.JSONField(default=list, blank=True)
    allowed_operations = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if not isinstance(self.allowed_models, list) or not all(
            m in settings.MUSIC_MODELS for m in self.allowed_models
        ):
            errors["allowed_models"] = f"A list drawn from {', '.join(settings.MUSIC_MODELS)}."
        if not isinstance(self.allowed_operations, list) or not all(
            o in Operation.values for o in self.allowed_operations
        ):
            errors["allowed_operations"] = f"A list drawn from {', '.join(Operation.values)}."
        if errors:
            raise ValidationError(errors)


class Account(models.Model):
    """A user's plan and usage counters, changed only by conditional UPDATEs (see quotas)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account"
    )
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT)
    period_start = models.DateTimeField()
    used = models.PositiveIntegerField(default=0)
    in_flight = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(used__gte=0), name="account_used_gte_0"),
            models.CheckConstraint(
                condition=models.Q(in_flight__gte=0), name="account_in_flight_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.plan or 'default plan'}"


class LedgerKind(models.TextChoices):
    RESERVE = "reserve"  # +cost when an operation is accepted
    RELEASE = "release"  # -cost when it failed, was refunded or was canceled before the vendor
    CHARGE = "charge"  # 0: the reservation became a cost (succeeded, or canceled after submit)


class LedgerEntry(models.Model):
    """An append-only audit of credit changes; `used` can be recomputed from it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # Only a generation's own reservation names it; other operations' reservations name none.
    generation = models.ForeignKey(Generation, null=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=8, choices=LedgerKind.choices)
    operation = models.CharField(max_length=32, blank=True, help_text="What the credits paid for.")
    units = models.IntegerField(help_text="Credits: +cost, -cost or 0.")
    # A settlement's reservation: unique, so each reservation settles exactly once.
    settles = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="settlement"
    )
    # The period the reservation counted against, so a release lands in the right one.
    period_start = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "period_start"], name="ledger_user_period")]
        constraints = [
            # One settlement per generation, however often a terminal move is retried.
            models.UniqueConstraint(
                fields=["generation"],
                condition=~models.Q(kind="reserve"),
                name="ledger_one_settlement_per_generation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.units:+d} for {self.user}"


class PendingCreate(models.Model):
    """A vendor create that may be in flight: written with the claim, before the call, and
    removed in the transaction that records the vendor's answer (see `generations.submissions`).

    It names the generation by a plain id, not a foreign key, so that it outlives a delete: a
    cancel or delete landing mid-call cannot drop the charge.
    """

    generation_id = models.UUIDField(unique=True)
    # The unit to settle, reachable after the generation is gone (test rows may have none).
    reservation = models.ForeignKey(
        LedgerEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    started_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"create for {self.generation_id} since {self.started_at:%H:%M:%S}"


class IdempotencyKey(models.Model):
    """Stripe-style `Idempotency-Key` on the POSTs that create (a generation or a job): per user,
    kept for 24 h."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    generation = models.ForeignKey(Generation, null=True, on_delete=models.CASCADE)
    job = models.ForeignKey(Job, null=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user}:{self.key}"


class VendorBalance(models.Model):
    """The vendor account's credits as last read (`GET /get-credits`, every minute by a worker):
    one row, for operators (the admin, `/readyz`)."""

    credits = models.IntegerField(null=True, help_text="Empty until a reading succeeds.")
    extra_credits = models.IntegerField(default=0)
    checked_at = models.DateTimeField(help_text="When the vendor was last asked.")
    error = models.TextField(blank=True, help_text="Why the last reading failed, if it did.")

    def __str__(self) -> str:
        return f"{self.credits} + {self.extra_credits} extra credits"

    @property
    def total(self) -> int | None:
        return None if self.credits is None else self.credits + self.extra_credits


# --- the event log -------------------------------------------------------------------------------


class EventType(models.TextChoices):
    GENERATION_QUEUED = "generation.queued"
    GENERATION_RUNNING = "generation.running"
    GENERATION_SUCCEEDED = "generation.succeeded"
    GENERATION_FAILED = "generation.failed"
    GENERATION_CANCELED = "generation.canceled"
    CLIP_STREAMING = "clip.streaming"
    CLIP_SUCCEEDED = "clip.succeeded"  # one per clip, before its generation's terminal event
    CLIP_FAILED = "clip.failed"
    CLIP_MEDIA_READY = "clip.media_ready"
    CLIP_MEDIA_FAILED = "clip.media_failed"
    CLIP_JOB_UPDATED = "clip.job_updated"  # a job on one of its clips (a WAV, stems) moved


class Event(models.Model):
    """One change a client may hear about, written in the transaction that made the change (an
    outbox): live streams, the per-user stream and webhooks carry its id (`evt_<id>`), so a
    client deduplicates across them. It names what changed; deliveries send the resource."""

    id = models.BigAutoField(primary_key=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=32, choices=EventType.choices)
    # The clip it is about (clip.succeeded, clip.failed, clip.media_*); None for the others.
    clip = models.ForeignKey(
        Clip, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "id"], name="event_owner_id"),
            models.Index(fields=["generation", "id"], name="event_generation_id"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"

    @property
    def public_id(self) -> str:
        return f"evt_{self.id}"


# --- outbound webhooks ---------------------------------------------------------------------------


class WebhookEndpoint(models.Model):
    """A URL of the user's that receives their events, signed per the Standard Webhooks spec."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2000)
    # Event types to send; empty: every type.
    event_types = models.JSONField(default=list, blank=True)
    secret = models.CharField(max_length=100)  # `whsec_` + base64 of 24 random bytes
    created_at = models.DateTimeField(auto_now_add=True)
    failure_streak = models.PositiveIntegerField(default=0)  # failed attempts in a row
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # not delivered yet: an attempt is queued or scheduled
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # out of retries (or held past them)
    # Not sent because the endpoint is disabled: sent again if it is re-enabled within
    # WEBHOOK_RETRY_WINDOW_S of the event, failed after that.
    HELD = "held"


class WebhookDelivery(models.Model):
    """One event for one endpoint: written in the event's transaction (the outbox), attempted
    by a worker until it succeeds or WEBHOOK_RETRY_WINDOW_S passes, always with the event's id."""

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    body = models.TextField(blank=True)  # fixed at the first attempt: every retry sends the same
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_once_per_event")
        ]

    def __str__(self) -> str:
        return f"evt_{self.event_id} to {self.endpoint_id} ({self.status})"
