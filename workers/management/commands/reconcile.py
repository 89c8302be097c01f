"""`python manage.py reconcile`: repair generations and jobs whose messages were lost."""

from django.core.management.base import BaseCommand

from generations.job_lifecycle import jobs_reconcile
from generations.lifecycle import generations_reconcile


class Command(BaseCommand):
    help = (
        "Re-send the next step of generations and jobs whose messages were lost (safe to repeat)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            type=float,
            default=None,
            help="Seconds a step may be overdue before it is re-sent (default RECONCILE_GRACE_S).",
        )

    def handle(self, *args, grace, **options):
        report = generations_reconcile(grace_s=grace)
        self.stdout.write(f"reconcile: {report}")
        self.stdout.write(f"reconcile jobs: {jobs_reconcile(grace_s=grace)}")
