"""The operations the web app and the CLI call: start, complete, claim, hand over, message, the
scheduler's rounds and the figures.
"""
