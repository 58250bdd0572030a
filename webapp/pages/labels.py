"""The Swedish words the pages show for the engine's codes: statuses, history events, escalation
actions, who acted and how severe a diagnostic is. Templates read them through the context
processor in `webapp.pages.common`."""

from __future__ import annotations

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
}
# What an escalation step did, as the case's history tells an auditor.
ESCALATION_ACTIONS = {
    "remind": "påminnelse", "notify_manager": "chefen underrättad", "reassign_manager": "flyttad till chefens roll",
    "raise_priority": "högre prioritet", "substitute": "till ersättaren enligt delegationsordningen",
    "superior": "till överordnad enligt delegationsordningen",
}
# Who acted, where it was not a person.
ACTOR_LABELS = {"scheduler": "systemet", "system": "systemet"}
STATUS_LABELS = {
    "active": "Pågår", "completed": "Avslutat", "incident": "Incident", "open": "Öppen",
    "cancelled": "Avbruten", "published": "Publicerad", "draft": "Utkast", "superseded": "Ersatt",
    "retired": "Tillbakadragen",
}
SEVERITY_LABELS = {"error": "Fel", "warning": "Varning", "info": "Information"}
