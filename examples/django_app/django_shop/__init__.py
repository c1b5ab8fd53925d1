"""The orders service on Django, protected by django_iamguard (see `views.py`)."""
