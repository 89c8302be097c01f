import django.db.models.deletion
from django.db import migrations, models


def mark_submitting(apps, schema_editor):
    """A row caught in `submitting` by the upgrade may have a create in flight: mark it, so the
    reconciler settles it as unconfirmed instead of sending it again."""
    Generation = apps.get_model("generations", "Generation")
    LedgerEntry = apps.get_model("generations", "LedgerEntry")
    PendingCreate = apps.get_model("generations", "PendingCreate")
    for generation_id, started in Generation.objects.filter(status="submitting").values_list(
        "id", "updated_at"
    ):
        reservation = LedgerEntry.objects.filter(
            generation_id=generation_id, kind="reserve"
        ).first()
        PendingCreate.objects.create(
            generation_id=generation_id, reservation=reservation, started_at=started
        )


class Migration(migrations.Migration):

    dependencies = [
        ('generations', '0003_clip_media'),
    ]

    operations = [
        migrations.AlterField(
            model_name='generation',
            name='error_code',
            field=models.CharField(blank=True, choices=[('rejected', 'Rejected'), ('unavailable', 'Unavailable'), ('timed_out', 'Timed Out'), ('internal', 'Internal'), ('unconfirmed', 'Unconfirmed')], max_length=16),
        ),
        migrations.CreateModel(
            name='PendingCreate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('generation_id', models.UUIDField(unique=True)),
                ('started_at', models.DateTimeField(db_index=True)),
                ('reservation', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='generations.ledgerentry')),
            ],
        ),
        migrations.RunPython(mark_submitting, migrations.RunPython.noop),
    ]
