"""pytest fixtures shared by every prokopim test suite (loaded by the root conftest.py)."""
