"""Who holds a running task and when it moves: delegation, absence, escalation, the policies and
the notices they send.
"""
