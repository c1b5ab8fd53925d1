"""Suite-wide settings."""

import os

from hypothesis import settings

# A CI run must be reproducible: the same examples every time (derandomized) and no per-example
# deadline on a loaded 2-core machine. Local runs keep exploring new random examples.
settings.register_profile("ci", derandomize=True, deadline=None, database=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
