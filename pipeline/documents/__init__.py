"""Documents: what a file is, whether it is safe, what it says (statements, cover letters)."""
