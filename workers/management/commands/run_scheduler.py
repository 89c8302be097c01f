"""`python manage.py run_scheduler`: periodiq, sending the periodic actors' messages on time.

Run one per deployment (two would only send each reconcile twice, which is harmless).
"""

from django.core.management.base import BaseCommand
from periodiq import main, make_argument_parser


class Command(BaseCommand):
    help = "Run the periodiq scheduler for the periodic actors (the reconciler)."

    def handle(self, *args, **options):
        arguments = make_argument_parser().parse_args(["django_dramatiq.setup", "workers.actors"])
        return str(main(arguments) or "")
