"""Who holds a running task and when it moves: delegation, absence, escalation steps as they fire,
accounts that end, and the notices they send (a case's deadline among them).
"""
