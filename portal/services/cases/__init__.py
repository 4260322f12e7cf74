"""Cases: a privacy request from submission to its final answer, and the inquiries beside it.

- `submission`: the one constructor of a case, intake, withdrawal, extension, expiry, the timeline
- `transitions`: the one way a case changes status (lifecycle table, audit, mail, status listeners)
- `verification`: the emailed link, matching against the identity index, holds
- `casework`: staff actions (verify, hold, ask for information, extend, deny, notes, documents)
- `outcomes`: completion, the denial bases (only those that can be true for the case), the mails
  the console's review step shows, and contested statements
- `work_queue`: the console's queue, its counts and the acknowledgement list; `open_counts` folds the
  open-case counts the database triggers keep
- `case_file`: everything the console's case page shows; `case_summary`: its top (what is needed
  next, the newest from the requester, "replied"), and who took the case
- `auto_completion`: opt-out and limit cases told downstream and completed by the worker
- `agents`: authorized agents; `inquiries`: privacy questions; `notices`: notices downstream
- `references`: public references; `status_access`: reference + email -> magic link -> session
- `preference_signals`: a GPC signal in a known person's status session opens their opt-out case
- `letters`: the letters owed to requesters without an email address
- `portal_erasure`: a completed deletion erases the person's identity index rows and closed inquiries

It may import `services.identity`, `services.documents`, `services.delivery` and `services.audit`;
it never imports `services.drp` (DRP listens to status changes instead, see `transitions`).
"""
