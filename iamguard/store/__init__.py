"""Durable state: the SQLite database shared by every component, and the store implementations."""
