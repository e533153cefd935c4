"""Runnable examples: ``./scripts/example`` starts ``examples.app``."""
