"""Connectors: acting on the data map in the business's SQL databases, as pure services.

Owns the connector engine of fulfilment (issue 31, second half): the access traversal from the
verified identity seeds (`traversal`), references that cross into another system's database
followed with the values found there (`across`), the access package built from it (`package`: JSON, CSV,
HTML, through the §7024(d) disclosure scan), erasure (`erasure`: preview, execution, post-check,
evidence) and correction (`correction`), over SQLAlchemy Core (`sql`: tables, read-only and write
guards, statement timeouts) with hashes that never carry values (`hashing`).

Nothing here has a table, a view, a command or a migration: the plan (per case) calls these
functions with the loaded data map, the system, the seeds and explicit SQLAlchemy connections, and
stores the plain dataclasses they return (`as_json()`) as it sees fit.

It may import `portal.services.fulfilment` (the map's model and `connections`), `services.documents`
(the disclosure scan), `portal.i18n` and Flask's templating; nothing imports it but the plan.
"""
