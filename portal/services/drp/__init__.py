"""Data Rights Protocol 1.0: authorized-agent services that pair, send requests, follow and revoke.

Owns the exchange (`exchange`: the endpoints' logic, every call audited), the status object and the
listener that queues a callback when a case's status changes (`status`), the callbacks channel
(`callbacks`) and what the staff console shows of a DRP case (`console`). It may import
`services.cases`, `services.identity`, `services.delivery` and `services.audit`; `services.cases`
never imports it.
"""
