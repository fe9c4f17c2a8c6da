"""Shared edges of prokopim services: auth, errors, SOP step rules, process wiring."""
