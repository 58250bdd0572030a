"""What the engine writes down for later: the hash-chained history, incidents, and the run limits
whose breach becomes one.
"""
