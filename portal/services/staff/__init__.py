"""Staff: the people who work the console.

Owns accounts (`accounts`: argon2id passwords, sign-in with lockout, TOTP, roles), invitations
(`invitations`) and the daily digest mail (`digest`). It may import `portal.models`,
`services.delivery`, `services.cases` (the digest's due dates) and `services.audit`.
"""
