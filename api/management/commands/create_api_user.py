"""Create (or reuse) a user and print a new personal API token on the last line."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from api.tokens import token_create
from generations.models import Plan
from generations.quotas import plan_assign


class Command(BaseCommand):
    help = "Create a user if missing and issue a new API token; the token is the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--token-name", default="cli", help="A name for the new token.")
        parser.add_argument("--plan", help="Put the user on this plan (it must exist).")

    def handle(self, *args, username: str, token_name: str, plan: str | None, **options):
        username = username.strip()
        if not username or len(username) > 150:
            raise CommandError("USERNAME must be 1 to 150 characters.")
        with transaction.atomic():
            user, created = get_user_model().objects.get_or_create(username=username)
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            if plan:
                try:
                    plan_assign(user=user, plan_name=plan)
                except Plan.DoesNotExist as exc:
                    raise CommandError(str(exc)) from exc  # rolls the new user back too
            issued = token_create(user=user, name=token_name)
        self.stderr.write(f"{'Created' if created else 'Existing'} user {username!r}.")
        self.stdout.write(issued.secret)
