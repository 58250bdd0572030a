"""The database: connections, transactions, the writer lock, the models, migrations and the SQLite
fast path.

The records-management tables (`retention_models`), the measure targets (`measure_models`), the
deviation links (`deviation_models`) and the remembered list views (`view_models`) live beside
`models`, on its `Base`; they are imported here, with the package, so that the one metadata
migrations, tests and `create_all` read always holds them (`models` importing them back would make a cycle).
"""

from . import deviation_models, measure_models, retention_models, view_models  # noqa: F401
