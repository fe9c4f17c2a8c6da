"""prokopim production: recording and coverage steps (record, edit, cover)."""
