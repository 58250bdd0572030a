"""The one catalogue of Swedish words for the codes Rutin stores: statuses, history events (a
case's and a process's), escalation actions, who acted, a diagnostic's severity and the titles of
problem types. The pages, the API's problem details, the engine's own messages and the CLI read
them here, so a new code gets its word once and a test finds one without it.

It imports nothing: any module, in any layer, may read it.
"""

from __future__ import annotations

# What happened, as a case's history tells it.
EVENT_LABELS = {
    "case_started": "Ärendet startades",
    "case_completed": "Ärendet avslutades",
    "case_clock_started": "Tidsfristen började löpa",
    "case_clock_paused": "Tidsfristen pausades",
    "case_clock_resumed": "Tidsfristen löper igen",
    "case_clock_extended": "Tidsfristen förlängdes",
    "case_clock_not_extended": "Tidsfristen förlängdes inte",
    "case_deadline_passed": "Tidsfristen passerades",
    "task_created": "Uppgift skapad",
    "task_claimed": "Uppgift tagen",
    "task_unclaimed": "Uppgift lämnad tillbaka",
    "task_completed": "Uppgift klar",
    "task_cancelled": "Uppgift avbruten",
    "task_assigned": "Uppgift tilldelad",
    "task_reassigned": "Uppgift omfördelad",
    "task_handed_over": "Uppgift överlämnad",
    "task_updated": "Uppgift ändrad",
    "task_due_moved": "Förfallodatum följer ärendets tidsfrist",
    "case_transferred": "Ärendet lämnades över till en annan enhet",
    "escalation_step": "Eskalering",
    "conflict_of_interest_declared": "Jäv anmält",
    "comment": "Kommentar",
    "timer_fired": "Timer löste ut",
    "timer_failed": "Tidsstyrd händelse misslyckades",
    "message_received": "Meddelande mottaget",
    "incident_raised": "Incident",
    "incident_retried": "Incident försökt igen",
    "data_corrected": "Uppgifter rättade",
    "case_clock_not_paused": "Tidsfristen pausades inte",
    "case_clock_stopped": "Tidsfristen står still tills kompletteringen kommit in",
    "case_clock_restarted": "Tidsfristen började om",
    "case_clock_not_restarted": "Tidsfristen började inte om",
    "case_clock_recounted": "Tidsfristen räknas från ankomstdagen",
    "case_clock_not_recounted": "Tidsfristen räknades inte om",
    "case_deadline_warning": "Varning inför tidsfristen",
    "follow_up_reminder": "Påminnelse om uppföljning",
    "scheduled_start_late": "Schemalagd start skedde sent",
    "case_culled": "Ärendet gallrades",
    "culling_hold_placed": "Ärendet undantogs från gallring",
    "culling_hold_released": "Undantaget från gallring hävdes",
}
# The kinds a case's history is filtered by on the case page (?visa=...): the label, and the event types.
HISTORY_KINDS = {
    "steg": ("Steg", ("task_created", "task_claimed", "task_unclaimed", "task_completed", "task_cancelled")),
    "kommentarer": ("Kommentarer", ("comment",)),
    "tidsfrister": ("Tidsfrister", ("task_updated", "task_due_moved", "case_clock_started", "case_clock_paused",
                                    "case_clock_resumed", "case_clock_extended", "case_clock_not_extended",
                                    "case_deadline_passed", "case_clock_not_paused", "case_clock_stopped",
                                    "case_clock_restarted", "case_clock_not_restarted", "case_clock_recounted",
                                    "case_clock_not_recounted", "case_deadline_warning", "escalation_step")),
    "overlamningar": ("Överlämningar", ("task_assigned", "task_reassigned", "task_handed_over", "case_transferred",
                                        "conflict_of_interest_declared")),
}
# What an escalation step did, as the case's history tells an auditor.
ESCALATION_ACTIONS = {
    "remind": "påminnelse", "notify_manager": "chefen underrättad", "reassign_manager": "flyttad till chefens roll",
    "raise_priority": "högre prioritet", "substitute": "till ersättaren enligt delegationsordningen",
    "superior": "till överordnad enligt delegationsordningen",
}
# Who acted, where it was not a person.
ACTOR_LABELS = {"scheduler": "systemet", "system": "systemet"}

# How a process version was approved (`ProcessVersion.approved_via`).
APPROVAL_VIA = {"owner": "av processägaren", "admin": "av en administratör"}
# Every status a person is shown: a case's (active, completed, incident), a task's (open,
# completed, cancelled) and a process version's (draft, published, superseded, rejected).
STATUS_LABELS = {
    "active": "Pågår", "completed": "Avslutat", "incident": "Incident", "open": "Öppen",
    "cancelled": "Avbruten", "published": "Publicerad", "draft": "Utkast", "superseded": "Ersatt",
    "rejected": "Avvisad", "culled": "Gallrat", "approved": "Godkänd", "replaced": "Ersatt",
}
# How the delegation ordinance says a decision is reported to the committee.
REPORTING_LABELS = {"anmals": "Anmäls till nämnden", "protokollfors": "Protokollförs särskilt",
                    "none": "Anmäls inte (verkställighet)"}
SEVERITY_LABELS = {"error": "Fel", "warning": "Varning", "info": "Information"}

# What happened to a process's versions, as its history tells it.
PROCESS_EVENT_LABELS = {
    "version_uploaded": "Version uppladdad",
    "version_approved": "Version godkänd och publicerad",
    "version_superseded": "Version ersatt av en senare",
    "version_restored": "Tidigare version återställd som nytt utkast",
    "version_rejected": "Version avvisad",
    "measure_target_set": "Mål för mätetal satt",
    "measure_target_removed": "Mål för mätetal borttaget",
}

# The measures a process owner may set a target for: what it is called, which way is good
# ("min": the actual should reach the target, "max": stay at or under it) and its unit.
MEASURE_TARGET_LABELS = {
    "within_deadline_share": {"label": "Andel klara inom tidsfristen", "direction": "min", "unit": "%"},
    "lead_time_days_p90": {"label": "Ledtid, 90 % klara inom", "direction": "max", "unit": "dagar"},
    "lead_time_days_median": {"label": "Ledtid, median", "direction": "max", "unit": "dagar"},
}

# The title of each problem type (RFC 9457), by the last part of its type URI.
PROBLEM_TITLES = {
    "bad-request": "Felaktig begäran",
    "unauthorized": "Inloggning krävs",
    "forbidden": "Behörighet saknas",
    "not-found": "Finns inte",
    "method-not-allowed": "Metoden stöds inte",
    "conflict": "Konflikt",
    "case-busy": "Ärendet är upptaget",
    "invalid-input": "Ogiltiga uppgifter",
    "invalid-bpmn": "Diagrammet kan inte driftsättas",
    "too-large": "För stor begäran",
    "unsupported-media-type": "Innehållstypen stöds inte",
    "too-many-attempts": "För många försök",
    "internal": "Internt fel",
}
# The problem type of an HTTP error no domain error raised (an unknown address, a wrong method).
HTTP_PROBLEMS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                 405: "method-not-allowed", 413: "too-large", 415: "unsupported-media-type"}


def status_label(status: str) -> str:
    """A status as a person reads it ("Avvisad"); an unknown code as it is."""
    return STATUS_LABELS.get(status, status)


def status_word(status: str) -> str:
    """A status inside a sentence ("Version 2 är redan avvisad.")."""
    return status_label(status).lower()
