"""`python -m pipeline` is the same as the `intake` command."""

from pipeline.cli.app import main

main()
