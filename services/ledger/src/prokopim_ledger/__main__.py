"""Run the ledger: `python -m prokopim_ledger` (HOST, PORT, DATABASE_URL, LEDGER_*, ...)."""

from __future__ import annotations

import uvicorn
from prokopim_events.settings import load_settings

from .app import create_app
from .config import Settings


def main() -> None:
    """Read settings from the environment and serve."""
    settings = load_settings(Settings)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
