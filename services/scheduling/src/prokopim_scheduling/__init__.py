"""prokopim scheduling: SOP steps of kinds coordinate-schedule, notify-requester, assign-staff."""
