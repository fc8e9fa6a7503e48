"""The worker runtime: runs one isolated library's nodes in a subprocess on the library's own venv."""
