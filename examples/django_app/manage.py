#!/usr/bin/env python
"""Django's command-line utility for the orders example: `python manage.py runserver 127.0.0.1:8002`
(`ORDERS_DB=demo.db`, seeded by `python examples/demo.py --db demo.db`), `python manage.py iam_routes`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_shop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
