"""prokopim console."""
