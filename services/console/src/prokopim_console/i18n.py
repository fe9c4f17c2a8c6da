"""The console's words in Bahasa Indonesia (first) and English."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("id", "en")

_WORDS: dict[str, tuple[str, str]] = {
    "app": ("Konsol Prokopim", "Prokopim console"),
    "skip": ("Lewati ke isi", "Skip to content"),
    "sign_in": ("Masuk", "Sign in"),
    "sign_out": ("Keluar", "Sign out"),
    "sign_in_sso": ("Masuk dengan SSO kantor", "Sign in with the office SSO"),
    "username": ("Nama pengguna", "User name"),
    "password": ("Kata sandi", "Password"),
    "bad_login": ("Nama pengguna atau kata sandi salah.", "Wrong user name or password."),
    "signed_in_as": ("Masuk sebagai", "Signed in as"),
    "role": ("Peran", "Role"),
    "language": ("Bahasa", "Language"),
    "worklist": ("Daftar tugas saya", "My worklist"),
    "worklist_empty": ("Tidak ada kasus yang menunggu peran Anda.", "No case waits for your role."),
    "new_request": ("Permohonan baru", "New request"),
    "sla_board": ("Papan SLA", "SLA board"),
    "report": ("Laporan monitoring semester", "Semester monitoring report"),
    "outlets": ("Daftar media", "Media outlets"),
    "search": ("Cari kasus", "Find cases"),
    "search_button": ("Cari", "Search"),
    "requester": ("Pemohon", "Requester"),
    "agency": ("Instansi", "Agency"),
    "activity": ("Nama kegiatan", "Activity name"),
    "activity_date": ("Tanggal kegiatan", "Activity date"),
    "letter_number": ("Nomor surat", "Letter number"),
    "subject": ("Perihal", "Subject"),
    "email": ("Surel", "Email"),
    "case": ("Kasus", "Case"),
    "step": ("Langkah", "Step"),
    "since": ("Sejak", "Since"),
    "sla": ("Waktu (kerja) terpakai / standar", "Working time used / standard"),
    "status": ("Status", "Status"),
    "on-time": ("Tepat waktu", "On time"),
    "at-risk": ("Berisiko", "At risk"),
    "breached": ("Terlambat", "Breached"),
    "open": ("Buka", "Open"),
    "closed": ("Selesai", "Closed"),
    "timeline": ("Riwayat", "Timeline"),
    # what production records as an equipment item's input once it is ticked
    "ticked on the equipment checklist": (
        "dicentang pada daftar periksa peralatan",
        "ticked on the equipment checklist",
    ),
    "current_step": ("Langkah saat ini", "Current step"),
    "no_step": ("Kasus ini tidak menunggu langkah apa pun.", "This case waits for no step."),
    "not_your_role": (
        "Langkah ini dikerjakan oleh peran {role}; peran Anda {mine}.",
        "This step is done by role {role}; your role is {mine}.",
    ),
    "inputs": ("Kelengkapan (referensi dokumen)", "Required inputs (document references)"),
    "outputs": ("Output", "Outputs"),
    "standard": ("Waktu baku", "Standard time"),
    "submit_step": ("Selesaikan langkah", "Complete the step"),
    "instruction": ("Instruksi disposisi", "Disposition instruction"),
    "scheduled_at": ("Waktu pelaksanaan", "When"),
    "location": ("Lokasi", "Location"),
    "notes": ("Catatan", "Notes"),
    "channel": ("Saluran pemberitahuan", "Notification channel"),
    "staff_name": ("Nama petugas", "Staff name"),
    "staff_role": ("Peran petugas", "Staff role"),
    "team": ("Tim", "Team"),
    "equipment": ("Peralatan siap", "Equipment ready"),
    "file_ref": ("Referensi berkas (URL atau lokasi arsip)", "File reference (URL or store path)"),
    "decision": ("Keputusan", "Decision"),
    "approve": ("Setujui (Ya)", "Approve (Yes)"),
    "reject": ("Tolak (Tidak)", "Reject (No)"),
    "reason": ("Alasan (wajib bila menolak)", "Reason (required when rejecting)"),
    "remark": ("Alasan / catatan", "Reason / note"),
    "title": ("Judul berita", "Headline"),
    "body": ("Isi berita", "Body"),
    "archive": ("Arsipkan rekaman", "Archive the recording"),
    "drafts": ("Draf dan versinya", "Drafts and their versions"),
    "files": ("Berkas", "Files"),
    "version": ("Versi", "Version"),
    "sop": ("SOP", "SOP"),
    "register": ("Daftarkan permohonan", "Register the request"),
    "per_role": ("Per peran", "Per role"),
    "per_person": ("Per petugas", "Per person"),
    "none_late": ("Tidak ada langkah yang berisiko atau terlambat.", "No step is at risk or late."),
    "from": ("Dari", "From"),
    "to": ("Sampai", "To"),
    "show": ("Tampilkan", "Show"),
    "download_csv": ("Unduh CSV", "Download CSV"),
    "download_html": ("Unduh HTML", "Download HTML"),
    "name": ("Nama", "Name"),
    "active": ("Aktif", "Active"),
    "add_outlet": ("Tambah media", "Add outlet"),
    "deactivate": ("Nonaktifkan", "Deactivate"),
    "yes": ("Ya", "Yes"),
    "no": ("Tidak", "No"),
    "done": ("Tersimpan.", "Saved."),
    "error": ("Ditolak", "Refused"),
    "live": ("Pembaruan langsung aktif", "Live updates on"),
    "who": ("Oleh", "By"),
    "when": ("Waktu", "When"),
    "event": ("Peristiwa", "Event"),
    "results": ("Hasil", "Results"),
    "next_page": ("Berikutnya", "Next"),
    "actions": ("Tindakan", "Actions"),
    "awaiting_archive": (
        "Rekaman telah diserahkan dan menunggu diarsipkan oleh {role}.",
        "The recording was handed over and waits to be archived by {role}.",
    ),
}


def translator(language: str) -> Callable[..., str]:
    """Return t(key, **values) for a language; unknown keys show as themselves."""
    index = 1 if language == "en" else 0

    def t(key: str, **values: object) -> str:
        words = _WORDS.get(key)
        text = words[index] if words else key
        return text.format(**values) if values else text

    return t
