"""Identity: who a request is about, and how sure we must be.

Owns the identity index (`subjects`: the business's records of people, as keyed hashes only), the
emailed single-use tokens (`tokens`) and the verification tiers of §7062 (`tiers`). It may import
`portal.models`, `portal.normalize`, `portal.clock` and the cross-cutting `services.audit`; nothing
here imports another capability.
"""
