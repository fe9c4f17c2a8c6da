"""prokopim intake: request letters in (SOP steps of kind receive-request and disposition)."""
