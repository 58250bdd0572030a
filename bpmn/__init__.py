"""Reading BPMN diagrams: secure parsing, dialects, diagnostics and the restricted evaluator.

This package knows nothing of databases or HTTP; the engine builds on it.
"""
