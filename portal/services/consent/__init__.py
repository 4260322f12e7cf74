"""Consent: the cookie-preference center's data.

Owns the categories and choices (`choices`: append-only records, Global Privacy Control), the
signed state cookie and the website's API token (`state_cookie`), receipts (`receipts`), the
banner's texts (`banner`) and the statistics per policy version (`statistics`). It may import
`portal.models`, `portal.policy` and `services.audit`; no other capability.
"""
