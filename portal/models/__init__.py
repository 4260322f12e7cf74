"""SQLModel tables. Timestamps are timezone-aware UTC; public references are never primary keys.

One module per capability, each with its tables and the indexes, constants and listeners that
belong to them:

- `columns`: the naming convention, UTCDateTime and the column helpers every table module uses
- `cases`: PrivacyRequest and its case work; the queue's indexes (DUE_ORDER, IS_OPEN), OpenCaseCount
- `inquiries`: Inquiry and its messages
- `audit`: AuditEvent, the hash-chained trail
- `documents`: Document, every uploaded or generated file; KeyFingerprint, what the keys were
- `consent`: ConsentRecord (append-only), IS_GPC
- `delivery`: OutboxMessage, WebhookDelivery, WorkerHeartbeat
- `staff`: StaffUser, StaffInvitation, DigestRun
- `records`: the §7101 RequestRecord (kept in step with PrivacyRequest by listeners), the stored
  §7102 figures, RetentionRun
- `notices`: Recipient, DownstreamNotice
- `fulfilment`: FulfilmentItem, one item of a case's plan; FulfilmentRun, a queued run of an automatic item
- `letters`: PostalLetter, a requester message owed by post
- `drp`: the Data Rights Protocol's agents, requests and callbacks
- `clients`: the client businesses whose data the business holds, referrals to them, their own requests
- `identity`: the identity index (IdentitySubject) and its imports

A new table goes in the module of its capability; a new capability gets a new module, imported
below with its public names. Importing `portal.models` then registers its tables on
SQLModel.metadata (Alembic's env.py relies on it) and `from portal.models import X` finds them.
Foreign keys name their tables as strings, so a table module imports another only where its Python
code uses that module's table (as the listeners in `records` use PrivacyRequest).
"""
from .audit import AuditEvent  # noqa: F401
from .cases import (  # noqa: F401
    DUE_ORDER,
    IS_OPEN,
    AgentAuthorization,
    CaseNote,
    CaseOutcome,
    ContestedStatement,
    IdentityCheck,
    OpenCaseCount,
    PrivacyRequest,
    RequestMessage,
    ResponseDownload,
    ResponseFile,
    VerificationAttempt,
    VerificationToken,
)
from .clients import Client, ClientReferral, ClientRequest  # noqa: F401
from .columns import UTCDateTime  # noqa: F401
from .consent import IS_GPC, ConsentRecord  # noqa: F401
from .delivery import OutboxMessage, WebhookDelivery, WorkerHeartbeat  # noqa: F401
from .documents import Document, KeyFingerprint  # noqa: F401
from .drp import DrpAgent, DrpCallback, DrpRequest  # noqa: F401
from .fulfilment import SETTLED_ITEM_STATES, FulfilmentItem, FulfilmentRun  # noqa: F401
from .identity import IdentityNameKey, IdentitySubject, SubjectImport  # noqa: F401
from .inquiries import Inquiry, InquiryMessage  # noqa: F401
from .letters import PostalLetter  # noqa: F401
from .notices import DownstreamNotice, Recipient  # noqa: F401
from .records import (  # noqa: F401
    ANSWERED,
    FIGURES_LOCK,
    IS_ANSWERED,
    AnnualMetrics,
    MetricsMonth,
    RequestRecord,
    RetentionRun,
    SignedDeclaration,
    lock_stored_figures,
)
from .staff import DigestRun, StaffInvitation, StaffUser  # noqa: F401
