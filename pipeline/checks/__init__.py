"""Checks: small named units, each returning a verdict with stable reason codes."""
