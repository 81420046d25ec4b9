"""What several test files share: building mail, running the real command, scenarios.

A test file imports its helpers from here, never from another test file (each test file
must run alone, one file per pytest-xdist worker); fixtures live in `tests/conftest.py`.
"""
