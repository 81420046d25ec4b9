"""Intake: email-driven intake of written statements for Security Council open debates."""

__version__ = "0.1.0"
