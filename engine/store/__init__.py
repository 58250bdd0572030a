"""The database: connections, transactions, the writer lock, the models, migrations and the SQLite
fast path.
"""
