"""Running diagrams: cases, human tasks, routing, clocks, persistence and the audit record.

The engine knows nothing of Flask; the web app and the CLI call the same functions here.
"""
