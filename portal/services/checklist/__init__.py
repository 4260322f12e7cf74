"""Checklist: what a new operator must still set before real people use the portal.

Owns the first-run checklist (`placeholders`): every example value or missing piece still live (the
example business's name in the policy, the example mail domain, the example phone, no toll-free
number, emailed links that would not reach this portal, no worker, DRP on without an agent, the data
map's problems), shown to admins in the console and logged as warnings when a process starts. It may
import `portal.models`, `portal.policy`, `services.delivery` (the heartbeats) and `services.fulfilment`
(the data map's check).
"""
