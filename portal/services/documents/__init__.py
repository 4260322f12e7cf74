"""Documents: every file the portal keeps, from the upload to the download.

Owns the store (`store`: checked, encrypted at rest, audited on view), type detection by content
(`kinds`), the key ring (`keys`), what a PDF or an image may contain (`upload_checks`; PDFs checked and
rewritten by qpdf in a child process under limits, `pdf_checks`), chunked
encryption (`chunked_crypto`), the blob storage behind it (`storage`), access-response files
(`response_files`), uploads kept across a form's validation error (`pending`), the §7024(d) disclosure scan (`disclosure_scan`) and the start-up check that the
keys fit the database (`instance_keys`). It may import `portal.models`, `portal.config` and
`services.audit`; no other capability.
"""
