"""Fulfilment: acting on a request in the business's own systems, from the data map to the plan.

Owns the data map (issue 31): its typed model (`datamap`), the loader of the YAML folder at
DATAMAP_PATH (`datamap_loader`: fideslang datasets, `systems:`, `rules:`), the built-in table from
fideslang data categories to the CCPA's categories of personal information (`ccpa_categories`),
`datamap check` (`datamap_check`, and `datamap_live_check` for what needs a connection), the
connections to the systems (`connections`) and `datamap scan`, which drafts a dataset from a live
database (`datamap_scan`). And the per-case plan: building it when a case is verified (`plan`, a
status listener and a completion check registered in create_app), the instructions the map writes
for each system (`instructions`), recording outcomes by staff and answers by processors (`answers`),
the drafts of the completion form (`drafts`) and what the console shows (`console`). Connectors that
run automatic items come next.

It may import `portal.config`, `portal.clock`, `portal.policy`, `portal.normalize`, `portal.urls`,
`services.cases` (the denial bases, notices downstream), `services.documents` (the §7024(d)
detectors, evidence files), `services.identity` (the answer link's token), `services.delivery` (the
webhook signature) and `services.audit`. `services.cases` never imports it: create_app connects the
two through `transitions.listen` and `outcomes.register_completion_check`.
"""
