"""Time in a case: timers, deadlines, the case clock, a task's clock (its deadline policy and
escalation ladder as timer rows) and SpiffWorkflow's view of now."""
