"""Fulfilment: acting on a request in the business's own systems, starting with the data map.

Owns the data map (issue 31): its typed model (`datamap`), the loader of the YAML folder at
DATAMAP_PATH (`datamap_loader`: fideslang datasets, `systems:`, `rules:`), the built-in table from
fideslang data categories to the CCPA's categories of personal information (`ccpa_categories`),
`datamap check` (`datamap_check`, and `datamap_live_check` for what needs a connection), the
connections to the systems (`connections`) and `datamap scan`, which drafts a dataset from a live
database (`datamap_scan`). The plan and the connectors come next, here too.

It may import `portal.config`, `portal.clock`, `portal.policy`, `portal.normalize`, `services.cases`
(the denial bases), `services.documents` (the §7024(d) detectors) and `services.audit`; no other
capability, and no capability imports it yet.
"""
