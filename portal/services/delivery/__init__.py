"""Delivery: everything the portal sends, queued with the action that causes it, sent later.

Owns the one delivery core (`outbox`: claims, retries with backoff, at least once), its channels
(`mail`, `webhooks`; the DRP callbacks channel lives in `services.drp.callbacks`), where the HTTP
channels may send and the POST they send (`outbound`: no address on the portal's own network), the loops that
run them (`worker`) and the heartbeat that tells a dead worker (`heartbeat`). Which channels and
scheduled jobs run is said once, in `portal/background.py`. It may import `portal.models`,
`portal.clock`, `portal.i18n` and `services.documents` (keys for encrypted bodies); no capability
above it (cases, drp, records, staff) is imported from here.
"""
