"""Time in a case: timers, deadlines, the case clock and SpiffWorkflow's view of now."""
