"""Services: typed, keyword-only functions that own the transaction (`db.atomic`). They never
touch `request`.

One package per capability, each saying in its `__init__.py` what it owns and what it may import:
`identity`, `documents`, `consent`, `delivery`, `cases`, `drp`, `records`, `staff` and
`fulfilment`. Two cross-cutting modules every capability writes to stay here: `audit` (the
hash-chained audit log) and `health` (readiness and the operational figures). docs/architecture.md
draws the map.
"""
