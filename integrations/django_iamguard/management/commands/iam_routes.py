"""`manage.py iam_routes [--strict]`: every route with its iamguard mapping."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_iamguard.checks import route_reports


class Command(BaseCommand):
    help = "List every route of the URLconf with its iamguard mapping; unmapped routes are flagged."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--strict", action="store_true", help="Fail when a route is unmapped.")

    def handle(self, *args: Any, **options: Any) -> None:
        reports = route_reports()
        for report in reports:
            self.stdout.write(str(report))
        problems = [report for report in reports if not report.ok]
        if options["strict"] and problems:
            raise CommandError(f"{len(problems)} route(s) have no usable iamguard mapping")
