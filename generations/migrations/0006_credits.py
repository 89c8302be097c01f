"""Plans count credits, not generations: every count becomes credits at a song's price.

A unit counted before this migration was a song (create, extend or cover; a job's units were its
price in songs, rounded up), so plans' limits, this period's usage and the ledger's units are
multiplied by the song price the settings give now (CREDIT_COSTS, `create`, 15 by default): no
usage is lost, none is invented below what was counted. In-flight and per-minute limits stay
counts. Each generation's and job's reservation learns what it paid for, and each generation's
settlement the reservation it settles (entries of deleted generations keep no id, and jobs kept
their own `settled` flag, so those stay unlinked). Reversible: credits go back to units, rounded
up.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery

SONG_OPERATIONS = ("create", "extend", "cover")


def _song_price() -> int:
    return settings.CREDIT_COSTS["create"]


def to_credits(apps, schema_editor):
    Plan = apps.get_model("generations", "Plan")
    Account = apps.get_model("generations", "Account")
    LedgerEntry = apps.get_model("generations", "LedgerEntry")
    Job = apps.get_model("generations", "Job")
    song = _song_price()
    Plan.objects.update(credits_per_period=F("generations_per_period") * song)
    Account.objects.update(used=F("used") * song)
    LedgerEntry.objects.update(units=F("units") * song)
    for operation in SONG_OPERATIONS:
        LedgerEntry.objects.filter(generation__operation=operation).update(operation=operation)
    # A job's reservation: its kind names its price (wav, stems_basic...).
    kind = Job.objects.filter(reservation_id=OuterRef("pk")).values("kind")[:1]
    LedgerEntry.objects.filter(operation="", kind="reserve", pk__in=Job.objects.values(
        "reservation_id"
    )).update(operation=Subquery(kind))
    reservation = LedgerEntry.objects.filter(
        generation_id=OuterRef("generation_id"), kind="reserve"
    ).values("pk")[:1]
    LedgerEntry.objects.exclude(kind="reserve").filter(generation__isnull=False).update(
        settles_id=Subquery(reservation)
    )


def to_generations(apps, schema_editor):
    Plan = apps.get_model("generations", "Plan")
    Account = apps.get_model("generations", "Account")
    LedgerEntry = apps.get_model("generations", "LedgerEntry")
    song = max(1, _song_price())
    # Integer division truncates toward zero on PostgreSQL and SQLite: these round away from it.
    Plan.objects.update(generations_per_period=F("credits_per_period") / song)
    Account.objects.update(used=(F("used") + song - 1) / song)
    LedgerEntry.objects.filter(units__gt=0).update(units=(F("units") + song - 1) / song)
    LedgerEntry.objects.filter(units__lt=0).update(units=(F("units") - song + 1) / song)


class Migration(migrations.Migration):

    dependencies = [
        ("generations", "0005_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="ledgerentry",
            name="operation",
            field=models.CharField(
                blank=True, help_text="What the credits paid for.", max_length=32
            ),
        ),
        migrations.AddField(
            model_name="ledgerentry",
            name="settles",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="settlement",
                to="generations.ledgerentry",
            ),
        ),
        migrations.AddField(
            model_name="plan",
            name="credits_per_period",
            field=models.PositiveIntegerField(
                default=300,
                help_text="Credits a user may spend per period (a song costs 15 by default).",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="units",
            field=models.IntegerField(help_text="Credits: +cost, -cost or 0."),
        ),
        migrations.RunPython(to_credits, to_generations),
        migrations.RemoveField(
            model_name="plan",
            name="generations_per_period",
        ),
        migrations.AlterField(
            model_name="plan",
            name="max_in_flight",
            field=models.PositiveIntegerField(
                default=3,
                help_text="Operations in progress at once (each counts 1, whatever it costs).",
            ),
        ),
    ]
