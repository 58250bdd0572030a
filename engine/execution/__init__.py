"""Running a case: the unit of work around SpiffWorkflow and its multi-instance steps."""
