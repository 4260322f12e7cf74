"""Clients: the businesses whose data the business holds as their service provider (CCPA §1798.140(ag))
or business associate (HIPAA), and requests about that data, both ways (issue 34).

Owns the registry (`registry`: add, change, list, remove; the webhook's address and signing secret; the
client's Ed25519 key for the API), what a case found about clients and what staff chose for each
(`referrals`: the status listener that finds them, forward / explain / handle as the business, the
completion and denial checks, reminders), the client's answer to a forwarded request (`answers`: its
single-use link and signed webhook reply), health information requests (`health`: 45 CFR 164.524's 30
days, the covered entity named), and the signed API a client sends its own requests through
(`inbound`: Ed25519 as the Data Rights Protocol's messages, the case scoped to that client's data,
status callbacks by signed webhook).

It may import `portal.models`, `portal.config`, `portal.clock`, `portal.urls`, `services.cases` (the
case's constructor, transitions, mail), `services.identity` (the index, tokens), `services.delivery`
(signed webhooks, the SSRF checks), `services.fulfilment` (the plan's scope), `services.drp` (the
signed-message scheme it reuses: `drp.messages`) and `services.audit`. Nothing imports it but
create_app, the blueprints and the CLI.
"""
