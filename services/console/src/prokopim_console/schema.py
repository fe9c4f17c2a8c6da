"""The console's own table (`console_users`), as migrations the database owner applies.

Declared under the entry-point group `prokopim.migrations`: `prokopim-migrate`, `prokopim up`
and the test fixtures apply them as `<prefix>_owner`; the console's own role may create
nothing and only checks, at start-up and in /readyz, that they are applied. Kept apart from
`accounts` so that whoever migrates imports no password hashing.
"""

from __future__ import annotations

from prokopim_events.migrations import Migration, package_migrations


def console_migrations() -> list[Migration]:
    """Return the console's own migrations, in order."""
    return package_migrations("prokopim_console", "console")
