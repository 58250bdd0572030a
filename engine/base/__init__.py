"""What everything else stands on: settings, errors, the clock, and the rules for case data (plain
data, limits, scripting, forms).
"""
