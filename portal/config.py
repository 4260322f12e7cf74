"""Configuration: embedded defaults, then instance/config.py, then PORTAL_* environment."""
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from . import clock
from .i18n import lazy_gettext as _l

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = dict(
    BASE_URL="http://127.0.0.1:5000",
    DATABASE_URL=None,  # None: SQLite file in the instance folder
    SMTP_HOST=None,  # None: mail is written as .eml files to <instance>/outbox/
    SMTP_PORT=25,
    SMTP_USERNAME=None,
    SMTP_PASSWORD=None,
    SMTP_STARTTLS=False,
    SMTP_TIMEOUT=10,
    MAIL_FROM="privacy@billgenix.example",
    MAIL_BACKGROUND_DELIVERY=True,
    MAIL_POLL_SECONDS=1.0,
    MAIL_RETRY_BASE_SECONDS=5,
    MAIL_RETRY_MAX_SECONDS=900,
    # Passing failures of every channel (mail: server down, 4xx; notices and DRP callbacks: timeouts,
    # 5xx, 429) are retried at the capped interval for this long after queuing, then the row is
    # `failed` (kept for `flask ... retry --failed` until retention). None: MAIL_RETRY_FOR_SECONDS,
    # the older name of this setting (for mail only, before it covered every channel), or 7 days.
    DELIVERY_RETRY_FOR_SECONDS=None,
    MAIL_RETRY_FOR_SECONDS=None,
    MAIL_MAX_ATTEMPTS=None,  # older limit on attempts; None: only MAIL_RETRY_FOR_SECONDS counts
    # Admins are alerted (console banner, daily digest) when mail failed within MAIL_ALERT_FAILED_DAYS
    # or the oldest pending mail was queued more than MAIL_ALERT_PENDING_SECONDS ago.
    MAIL_ALERT_FAILED_DAYS=7,
    MAIL_ALERT_PENDING_SECONDS=3600,
    RATELIMIT_STORAGE_URL="memory://",
    RATELIMIT_ENABLED=True,
    # With the shared store (Redis) unreachable, limits are counted per process in memory, with a
    # warning in the log, until it answers again; a form never fails because the store is down.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    RATELIMIT_SWALLOW_ERRORS=True,
    RATELIMIT_REDIS_TIMEOUT_SECONDS=0.5,  # connect and answer timeout for a redis:// store
    RATELIMIT_SUBMIT="10 per hour;30 per day",  # the inquiry form, every POST
    # The request and agent forms (portal/form_limits.py): accepted submissions from one network address
    # (a clinic desk, an agent firm) and for one email address; every POST, errors included, by the flood guard.
    RATELIMIT_REQUEST_ADDRESS="60 per hour;300 per day",
    RATELIMIT_REQUEST_EMAIL="5 per hour;20 per day",
    RATELIMIT_FORM_POSTS="300 per hour",
    RATELIMIT_TOKEN="30 per hour",
    RATELIMIT_STATUS="10 per hour",
    ORG_NAME="Billgenix",
    PRIVACY_EMAIL="privacy@billgenix.example",
    PRIVACY_PHONE="(909) 698-8120",
    # §1798.130(a)(1)(A): a toll-free number is a method for know, delete and correct requests, unless the
    # business operates exclusively online (then an email address suffices). Unset and not
    # EXCLUSIVELY_ONLINE: the start-up log warns and the staff console shows a notice.
    PRIVACY_TOLL_FREE=None,
    # The business's postal address, one line each, for the letters' letterhead and the policy's
    # contact methods; None: none is printed (no address is invented).
    ORG_POSTAL_ADDRESS=None,
    LETTER_FONT_PATH=None,  # a TrueType font for printed letters; None: Debian's DejaVu Sans
    EXCLUSIVELY_ONLINE=False,
    SECURITY_CONTACT_EMAIL="security@billgenix.example",
    SECURITY_TXT_EXPIRES_DAYS=180,  # RFC 9116: Expires should be less than a year ahead
    SECURITY_TXT_LANGUAGES="en, es",
    PRIVACY_POLICY_FILE="privacy_policy.md",  # in the instance folder; a default ships with the app
    LANGUAGES=["en", "es"],  # the first is the default; each other one needs translations/<code>/
    LANGUAGE_COOKIE_NAME="portal_lang",  # strictly necessary: remembers the language the visitor chose
    LANGUAGE_COOKIE_DAYS=365,
    BABEL_TRANSLATION_DIRECTORIES=str(REPO_ROOT / "translations"),
    VERIFY_TOKEN_HOURS=48,
    STATUS_TOKEN_MINUTES=30,
    STATUS_SESSION_MINUTES=30,
    STATUS_RESPONSE_SECONDS=0.25,  # every status-link answer takes this long, match or not
    REQUEST_RESPONSE_SECONDS=0.5,  # every request-form answer takes this long, duplicate or not
    UNCONFIRMED_EXPIRY_DAYS=14,
    AGENT_CONFIRM_DAYS=14,  # how long a consumer's link to confirm or reject an agent works
    # Request types whose requesters sign the declaration under penalty of perjury (§7062:
    # the high tier for health-related data). Access for specific pieces always needs it.
    DECLARATION_REQUIRED_TYPES=["delete", "correct"],
    DOCUMENT_MAX_BYTES=10 * 1024 * 1024,  # one uploaded file
    DOCUMENTS_PATH=None,  # None: <instance>/documents/
    # An uploaded PNG or JPEG may have at most this many pixels (a 600 dpi letter page has 34 million):
    # a small file can declare a picture that takes gigabytes to open.
    IMAGE_MAX_PIXELS=40_000_000,
    # An uploaded PDF is checked in a child process (services/documents/pdf_checks.py): at most this
    # many objects, this long and this much address space; a file that needs more is refused. A
    # signed form has tens of objects; 190,000 took 3.2 s of CPU and 283 MB to walk.
    PDF_MAX_OBJECTS=50_000,
    PDF_CHECK_SECONDS=10,
    PDF_CHECK_MEMORY_MB=512,
    # The whole request body; None: DOCUMENT_MAX_BYTES plus FORM_OVERHEAD_BYTES for the other
    # fields and multipart framing. Werkzeug answers 413 before reading a larger body.
    MAX_CONTENT_LENGTH=None,
    FORM_OVERHEAD_BYTES=2 * 1024 * 1024,
    PROXY_FIX_X_FOR=0,
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    WTF_CSRF_HEADERS=["X-CSRFToken"],
    # Flask-WTF's extra check on HTTPS wants a same-origin Referer, but every page says
    # `Referrer-Policy: no-referrer` (tokens live in URLs), so browsers send none and every form
    # posted over HTTPS would fail. The session-bound CSRF token and SameSite cookies protect forms.
    WTF_CSRF_SSL_STRICT=False,
    # Staff console sign-in
    RATELIMIT_LOGIN="10 per minute;100 per hour",
    STAFF_LOCKOUT_ATTEMPTS=5,
    STAFF_LOCKOUT_MINUTES=15,
    STAFF_SESSION_MINUTES=30,  # idle: a console session ends after this long without a request
    STAFF_SESSION_MAX_MINUTES=720,  # absolute: and after this long whatever happens
    STAFF_INVITE_HOURS=72,
    STAFF_PASSWORD_MIN_LENGTH=12,
    STAFF_DIGEST_HOUR=7,  # California time from which the daily digest goes out
    # argon2id parameters (RFC 9106 low-memory profile); hashes made with others are redone at sign-in
    ARGON2_TIME_COST=3,
    ARGON2_MEMORY_KIB=65536,
    ARGON2_PARALLELISM=4,
    # Cookie-preference center. A new privacy policy version (PRIVACY_POLICY_FILE) asks every visitor
    # again (except about sale/sharing within 12 months of an opt-out, §7026(k)). Category keys are
    # form field names: lowercase letters, digits, "_". The default ships no sale/sharing category,
    # in step with the default policy ("We do not sell personal information"); SELLS_OR_SHARES adds
    # SALE_SHARING_CATEGORY and needs a policy that discloses it (header `sells_or_shares: yes`; the
    # shipped default then is the disclosing variant, privacy_policy_sells.md).
    CONSENT_CATEGORIES=[
        dict(key="necessary", required=True, sale_or_sharing=False, label=_l("Strictly necessary"),
             description=_l("Keep the site working and secure: your session, the protection against forged "
                            "forms, the language you choose and the record of the choices you make on this "
                            "page. They cannot be switched off, and they are never used to track you.")),
        dict(key="functional", required=False, sale_or_sharing=False, label=_l("Functional"),
             # The language cookie is strictly necessary (portal/i18n.py): this category does not claim it.
             description=_l("Remember other settings you choose on our sites, so you do not have to set them "
                            "again on your next visit.")),
        dict(key="analytics", required=False, sale_or_sharing=False, label=_l("Analytics"),
             description=_l("Count visits and see which pages are used, so we can improve the site. "
                            "The counts stay with us.")),
    ],
    # False: the business does not sell or share personal information and has not in the last 12
    # months (the policy says so, §7011(e)(1)(E)); True: it does, and the policy lists what and to whom.
    SELLS_OR_SHARES=False,
    # The privacy policy's statements the business must make itself (§7011(e)(1)); None: not made yet,
    # start-up warns and the policy leaves the statement out rather than guess it.
    # Whether sensitive personal information is used or disclosed for purposes beyond those §7027(m) lists.
    SENSITIVE_USE_BEYOND_7027M=None,
    # With SELLS_OR_SHARES: whether the business knowingly sells or shares data of consumers under 16.
    SELLS_OR_SHARES_UNDER_16=None,
    # §7062(f): why there is no reasonable method to verify the people whose data the business holds,
    # where that is so for all of them (text, or a mapping of language codes to text); None: there is one.
    NO_REASONABLE_VERIFICATION=None,
    SALE_SHARING_CATEGORY=dict(
        key="advertising", required=False, sale_or_sharing=True, label=_l("Advertising (sale or sharing)"),
        description=_l("Let advertising partners use cookies to show you ads on other sites. Under "
                       "California law this is a sale or sharing of your personal information.")),
    CONSENT_ALLOWED_ORIGINS=[],  # origins of the business's own site allowed to call /api/consent
    CONSENT_COOKIE_NAME="portal_consent_id",
    CONSENT_STATE_COOKIE_NAME="portal_consent_state",  # signed cache of the current choices
    CONSENT_COOKIE_DAYS=395,  # about 13 months
    CONSENT_COOKIE_SAMESITE="Lax",  # "None" (with HTTPS) when the business's site is on another site
    CONSENT_STATE_CACHE_SECONDS=86400,
    CONSENT_JURISDICTION="US-CA",
    CONSENT_POLICY_URL=None,  # None: <BASE_URL>/privacy
    GPC_LAST_UPDATE="2026-11-28",  # the date in /.well-known/gpc.json
    RATELIMIT_CONSENT="60 per minute",

    # Staff console. The basis codes staff choose from when they deny a request or keep part of
    # the data (§7022(f), §1798.145, §1798.146, 8 CCR §10102): counsel may change the list and
    # citations. "types": the request types a basis applies to (all when absent); "citations": a
    # citation per request type where the rule differs; "enabled": False keeps a basis out of the
    # console until configuration turns it on (DENIAL_BASIS_OVERRIDES, by code, merges over these).
    # Opt-out and limit requests need no verification (§7060(b)): the only basis for them is a
    # documented belief that the request is fraudulent, with the reason written (§7026(e)).
    DENIAL_BASES=[
        {"code": "unverifiable", "label": _l("Identity could not be verified"), "types": ["access", "delete", "correct"],
         "citation": "Cal. Code Regs. tit. 11, §§7022(a), 7023(a), 7024(a)-(b)",
         "citations": {"delete": "Cal. Code Regs. tit. 11, §7022(a)",
                       "correct": "Cal. Code Regs. tit. 11, §7023(a)",
                       "access": "Cal. Code Regs. tit. 11, §7024(a)-(b)"}},
        {"code": "exempt_cmia", "label": _l("Medical information governed by the CMIA"),
         "types": ["access", "delete", "correct"], "citation": "Cal. Civ. Code §1798.146(a)(1)(A)"},
        {"code": "exempt_hipaa_phi",
         "label": _l("Protected health information held by a HIPAA covered entity or business associate"),
         "types": ["access", "delete", "correct"], "citation": "Cal. Civ. Code §1798.146(a)(1)(A), (C)"},
        {"code": "legal_retention_wc", "label": _l("Legal retention: workers' compensation claim file"),
         "types": ["delete", "correct"], "enabled": False,
         "citation": "Cal. Code Regs. tit. 8, §10102; Cal. Civ. Code §1798.105(d)(8)",
         "help": "8 CCR §10102 binds claims administrators. Check with counsel that it applies to this "
                 "business before turning it on, and edit the citation to match."},
        {"code": "legal_obligation", "label": _l("Needed to comply with another legal obligation"),
         "types": ["access", "delete", "correct"], "citation": "Cal. Civ. Code §1798.145(a)(1)"},
        {"code": "fraud_suspected", "label": _l("Documented belief that the request is fraudulent"),
         "citation": "Cal. Civ. Code §1798.105(d)(2); Cal. Code Regs. tit. 11, §7060(f)",
         "citations": {"correct": "Cal. Code Regs. tit. 11, §7023(h)",
                       "opt_out": "Cal. Code Regs. tit. 11, §7026(e)",
                       "limit": "Cal. Code Regs. tit. 11, §7027(d)"}},
        {"code": "duplicate", "label": _l("Duplicate or manifestly excessive request"),
         "types": ["access", "delete", "correct"], "citation": "Cal. Civ. Code §1798.145(h)(3)"},
        {"code": "not_california_resident", "label": _l("Not a California resident"),
         "types": ["access", "delete", "correct"], "citation": "Cal. Civ. Code §1798.140(i)"},
    ],
    DENIAL_BASIS_OVERRIDES={},  # e.g. {"legal_retention_wc": {"enabled": true, "citation": "..."}}
    # Business days skip California's state holidays (the `holidays` package). Counsel adjusts the
    # calendar with dates ("2026-12-24"), yearly dates ("12-24") or holiday names ("Diwali"; extra
    # names come from the US federal calendar). Lists, or one comma-separated string.
    PUBLISH_METRICS=False,  # §7102: publish last year's metrics at /privacy/metrics (page and CSV)
    HOLIDAYS_EXTRA=[],
    HOLIDAYS_EXCLUDE=[],
    QUEUE_PAGE_SIZE=50,
    DUE_SOON_DAYS=7,
    RESPONSE_FILE_DAYS=14,  # how long the requester can download an access response
    CONTESTED_STATEMENT_MAX_WORDS=250,  # §7023(f)(3): per piece of information contested

    # Retention (services/records/retention.py; docs/operations.md explains each): days after a case closes, etc.
    RETENTION_VERIFICATION_DAYS=30,  # §7060(d): verification-only data, once the case is closed
    RETENTION_DELETION_CASE_DAYS=30,  # a completed deletion request's own case, once closed
    RETENTION_INQUIRY_DAYS=365,  # an answered or closed inquiry, its messages and attachment
    RETENTION_CONSENT_DAYS=731,  # superseded consent and GPC records (the latest is kept while in force); never under RETENTION_RECORD_MONTHS (§7101)
    PENDING_UPLOAD_HOURS=24,  # an upload kept across a form's validation error, unclaimed, is purged after
    RETENTION_OUTBOX_DAYS=30,  # sent or failed mail and webhooks (their bodies hold personal data)
    RETENTION_RECORD_MONTHS=24,  # §7101 records and whole cases; the rule's minimum, never less
    # Notices downstream by webhook (services/delivery/webhooks.py)
    WEBHOOK_TIMEOUT_SECONDS=10,
    WEBHOOK_MAX_ATTEMPTS=None,  # an older limit on attempts; None: DELIVERY_RETRY_FOR_SECONDS alone counts
    WEBHOOK_ALLOW_HTTP=False,  # plain http:// receivers, for tests and development only
    # Webhooks and DRP callbacks never go to loopback, private, link-local, multicast or reserved
    # addresses (services/delivery/outbound.py); hosts listed here (name or name:port, comma-separated)
    # are exceptions, e.g. a test receiver on 127.0.0.1.
    OUTBOUND_ALLOW_HOSTS=[],
    # Keys adopted on purpose although the database was written with others (secret_key,
    # subject_hash_key): for the one start after an old key was lost (services/documents/instance_keys.py).
    KEYS_REPLACED=[],
    # Data Rights Protocol 1.0 (authorized-agent services, machine to machine); routes answer 404 while off.
    DRP_ENABLED=False,
    DRP_BUSINESS_ID=None,  # this business's id in the DRP directory; signed messages must name it
    DRP_CLOCK_SKEW_SECONDS=60,  # allowance around a message's issued-at and expires-at
    DRP_MAX_WINDOW_SECONDS=900,  # the longest issued-at to expires-at window accepted (15 minutes)
    DRP_VOLUNTARY="accept",  # requests with no regime or "voluntary": "accept" (handled as CCPA) or "refuse"
    DRP_MAX_BODY_BYTES=64 * 1024,
    DRP_CALLBACK_ALLOW_HTTP=False,  # status_callback URLs must be https unless this is on (tests, local agents)
    RATELIMIT_DRP="120 per minute;5000 per day",  # per agent, per endpoint
    # The DRP reason a denial basis (DENIAL_BASES, and the agents' two) is reported with; others: "other".
    DRP_DENIAL_REASONS={
        "unverifiable": "insuf_verification",
        "exempt_cmia": "claim_not_covered",
        "exempt_hipaa_phi": "claim_not_covered",
        "legal_retention_wc": "claim_not_covered",
        "legal_obligation": "claim_not_covered",
        "fraud_suspected": "suspected_fraud",
        "duplicate": "too_many_requests",
        "not_california_resident": "outside_jurisdiction",
    },
    # DRP status callbacks to agents, delivered with the mail
    DRP_CALLBACK_TIMEOUT_SECONDS=5,
    DRP_CALLBACK_PASS_SECONDS=2,  # each delivery pass starts no new POST after this long, so mail is not held up
    DRP_CALLBACK_RETRY_BASE_SECONDS=5,
    DRP_CALLBACK_RETRY_MAX_SECONDS=900,
    DRP_CALLBACK_MAX_ATTEMPTS=None,  # as WEBHOOK_MAX_ATTEMPTS
    # Identity verification against the identity index (§7060, §7062). SUBJECT_HASH_KEY: None means
    # generated once into <instance>/subject_hash_key. Tiers: how many data points must match per
    # kind of request (categories 2: a reasonable degree of certainty; specific pieces 3 plus the
    # signed declaration: a reasonably high degree; delete and correct take the high tier here, as the
    # records are health-related). DECLARATION_REQUIRED_TYPES above says who signs the declaration.
    SUBJECT_HASH_KEY=None,
    VERIFICATION_TIERS={"access_categories": 2, "access_specific": 3, "delete": 3, "correct": 3},
    # Fraud signals (§7060(f), §7061): a fraud hold, without telling the requester why, when within
    # FRAUD_WINDOW_HOURS a subject has FRAUD_FAILED_PER_SUBJECT failed matches, one email address
    # FRAUD_FAILED_PER_EMAIL failed matches, or one email address FRAUD_REQUESTS_PER_EMAIL requests of
    # one type (know, delete or correct: §1798.125, opt-out, limit and other types never count).
    FRAUD_WINDOW_HOURS=72,
    FRAUD_FAILED_PER_SUBJECT=3,
    FRAUD_FAILED_PER_EMAIL=3,
    FRAUD_REQUESTS_PER_EMAIL=5,

    # Operators: readiness (/readyz) thresholds, metrics (/metrics), logs. Readiness answers 503
    # when any check is past its threshold.
    READY_MAX_WORKER_AGE_SECONDS=120,  # newest heartbeat of a delivering process (worker or web thread)
    READY_MAX_PENDING_MAIL_AGE_SECONDS=1800,  # the oldest mail still waiting to go out
    READY_MAX_FAILED_MAIL=0,  # mail given up on (status failed) still in the outbox
    READY_MAX_WEBHOOK_BACKLOG=1000,  # webhooks and DRP callbacks waiting to go out
    READY_MAX_FAILED_WEBHOOKS=0,  # notices to recipients given up on, still kept
    READY_MAX_FAILED_DRP_CALLBACKS=0,  # DRP status callbacks given up on, still kept
    READY_MIN_FREE_STORAGE_MB=200,  # free space where the portal writes (instance folder, SQLite's folder)
    METRICS_ENABLED=True,
    # Who may read /metrics: clients in these networks, or with "Authorization: Bearer <METRICS_TOKEN>".
    # Anyone else gets 404. Behind a proxy, set PROXY_FIX_X_FOR so the client's address is the one checked.
    METRICS_ALLOWED_NETWORKS=["127.0.0.1/32", "::1/128"],
    METRICS_TOKEN=None,
    LOG_FORMAT="text",  # "json": one JSON object per line (time, level, logger, message, request_id)
    LOG_LEVEL="INFO",
    # The data map (docs/datamap.md): the folder of its YAML files; None: <instance>/datamap/
    DATAMAP_PATH=None,
    FULFIL_ITEM_LEAD_DAYS=10,  # a plan's items are due this many days before the response due date
    FULFIL_ANSWER_DAYS=45,  # how long a processor's single-use answer link works
    FULFIL_REPLY_MAX_AGE_SECONDS=300,  # a signed webhook reply older than this is refused
    # Clients (docs/clients.md): how long a forwarded request's answer link works, how often an
    # unanswered client is reminded, how old a signed webhook reply may be, HIPAA's access deadline.
    CLIENTS_ANSWER_DAYS=45,
    CLIENTS_REMINDER_DAYS=3,
    CLIENTS_REPLY_MAX_AGE_SECONDS=300,
    HIPAA_ACCESS_DAYS=30,  # 45 CFR 164.524(b)(2): the covered entity acts within 30 days of receipt
    FULFIL_STATEMENT_TIMEOUT_MS=10_000,  # every statement a connector runs in a business's database
    FULFIL_RUN_CLAIM_SECONDS=600,  # a run's claim: longer than a run can take; a dead worker's run is taken after
    FULFIL_RUN_RETRY_BASE_SECONDS=30,  # an unreachable business database is tried again after this, doubling
    FULFIL_RUN_RETRY_MAX_SECONDS=1800,
    FULFIL_RUN_RETRY_FOR_SECONDS=3 * 86400,  # then the item fails, for staff to retry
)

MIN_RECORD_MONTHS = 24  # §7101(a): request records are kept at least 24 months


def load(app, test_config=None):
    """Fill app.config in the contract's order and derive what follows from it."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("PORTAL")
    else:
        app.config.from_mapping(test_config)
    instance = Path(app.instance_path)
    # Personal data lives here: owner only, also when the folder was made earlier with the umask's mode.
    for folder in (instance, instance / "outbox"):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o077:
            os.chmod(folder, 0o700)
    # Secrets this start had to create (paths): a database that already holds data encrypted or
    # hashed with the old ones makes the app refuse to start instead (services/documents/instance_keys.py).
    generated = app.config["GENERATED_SECRETS"] = []
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance / "secret_key", lambda: secrets.token_urlsafe(48),
                                                    generated)
    keys = app.config.get("ENCRYPTION_KEYS")
    # Where the keys came from decides how `keys rotate` works: a file it can rewrite, or an
    # environment variable (or config file) only the operator can change.
    app.config["ENCRYPTION_KEYS_FILE"] = None if keys else str(instance / "encryption_keys")
    if not keys:
        keys = _instance_secret(instance / "encryption_keys", lambda: Fernet.generate_key().decode(), generated)
    app.config["ENCRYPTION_KEYS"] = parse_keys(keys)
    if not app.config.get("SUBJECT_HASH_KEY"):
        app.config["SUBJECT_HASH_KEY"] = _instance_secret(instance / "subject_hash_key",
                                                          lambda: secrets.token_urlsafe(48), generated)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'portal.db'}"
    if not app.config.get("DATAMAP_PATH"):
        app.config["DATAMAP_PATH"] = str(instance / "datamap")
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URL"]
    if str(app.config["RATELIMIT_STORAGE_URL"]).startswith("redis"):
        timeout = float(app.config["RATELIMIT_REDIS_TIMEOUT_SECONDS"])
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": timeout, "socket_connect_timeout": timeout})
    if isinstance(app.config["METRICS_ALLOWED_NETWORKS"], str):
        app.config["METRICS_ALLOWED_NETWORKS"] = [n.strip() for n in app.config["METRICS_ALLOWED_NETWORKS"].split(",")
                                                  if n.strip()]
    if isinstance(app.config.get("SECRET_KEY_FALLBACKS"), str):  # one old key, or several separated by commas
        app.config["SECRET_KEY_FALLBACKS"] = parse_keys(app.config["SECRET_KEY_FALLBACKS"])
    for key in ("HOLIDAYS_EXTRA", "HOLIDAYS_EXCLUDE", "OUTBOUND_ALLOW_HOSTS", "KEYS_REPLACED"):
        if isinstance(app.config[key], str):
            app.config[key] = [item.strip() for item in app.config[key].split(",") if item.strip()]
    # Every time shown to people is California time (deadlines count on that calendar too).
    app.config["BABEL_DEFAULT_TIMEZONE"] = clock.PACIFIC.key
    app.config["SESSION_COOKIE_SECURE"] = str(app.config["BASE_URL"]).startswith("https://")
    app.config["SMTP_PORT"] = int(app.config["SMTP_PORT"])
    _one_retry_period(app.config)
    for key in ("MAIL_RETRY_BASE_SECONDS", "MAIL_RETRY_MAX_SECONDS", "MAIL_POLL_SECONDS",
                "MAIL_ALERT_FAILED_DAYS", "MAIL_ALERT_PENDING_SECONDS", "SMTP_TIMEOUT"):
        app.config[key] = float(app.config[key])
    for key in ("MAIL_MAX_ATTEMPTS", "WEBHOOK_MAX_ATTEMPTS", "DRP_CALLBACK_MAX_ATTEMPTS"):
        if app.config.get(key) in ("", "none", "None"):
            app.config[key] = None
        elif app.config.get(key) is not None:
            app.config[key] = int(app.config[key])
    app.config["DOCUMENT_MAX_BYTES"] = int(app.config["DOCUMENT_MAX_BYTES"])
    if int(app.config["RETENTION_RECORD_MONTHS"]) < MIN_RECORD_MONTHS:
        raise ValueError(f"RETENTION_RECORD_MONTHS must be at least {MIN_RECORD_MONTHS} (§7101 records)")
    if not app.config.get("PRIVACY_TOLL_FREE") and not app.config.get("EXCLUSIVELY_ONLINE"):
        logging.getLogger(__name__).warning(
            "no toll-free number for privacy requests: set PORTAL_PRIVACY_TOLL_FREE (Civil Code "
            "§1798.130(a)(1)(A)), or PORTAL_EXCLUSIVELY_ONLINE=true if the business operates only online")
    _warn_policy_statements(app.config)
    if app.config["MAX_CONTENT_LENGTH"] is None:
        app.config["MAX_CONTENT_LENGTH"] = app.config["DOCUMENT_MAX_BYTES"] + int(app.config["FORM_OVERHEAD_BYTES"])


DEFAULT_RETRY_FOR_SECONDS = 7 * 24 * 3600


def _warn_policy_statements(cfg) -> None:
    """The privacy policy's statements only the business can make: warn while one is missing."""
    log = logging.getLogger(__name__)
    if cfg.get("SENSITIVE_USE_BEYOND_7027M") is None:
        log.warning("the privacy policy does not say whether sensitive personal information is used beyond the "
                    "purposes of 11 CCR §7027(m): set PORTAL_SENSITIVE_USE_BEYOND_7027M to true or false")
    if cfg.get("SELLS_OR_SHARES") and cfg.get("SELLS_OR_SHARES_UNDER_16") is None:
        log.warning("the privacy policy does not say whether the business knowingly sells or shares personal "
                    "information of consumers under 16 (§7011(e)(1)(F)): set PORTAL_SELLS_OR_SHARES_UNDER_16")


def _one_retry_period(cfg) -> None:
    """One retry period for every channel: DELIVERY_RETRY_FOR_SECONDS, else the older
    MAIL_RETRY_FOR_SECONDS, else 7 days; both keys then hold it (the mail channel reads the old one)."""
    given = cfg.get("DELIVERY_RETRY_FOR_SECONDS")
    if given in (None, ""):
        given = cfg.get("MAIL_RETRY_FOR_SECONDS")
    period = float(DEFAULT_RETRY_FOR_SECONDS if given in (None, "") else given)
    cfg["DELIVERY_RETRY_FOR_SECONDS"] = cfg["MAIL_RETRY_FOR_SECONDS"] = period


def parse_keys(keys) -> list[str]:
    """Keys given as a list, or as one string separated by commas or newlines (newest first)."""
    if isinstance(keys, (list, tuple)):
        keys = ",".join(str(k) for k in keys)
    return [k.strip() for k in str(keys).replace("\n", ",").split(",") if k.strip()]


def instance_path_from_env():
    """The instance folder: PORTAL_INSTANCE_PATH or instance/ at the repo root."""
    return str(Path(os.environ.get("PORTAL_INSTANCE_PATH") or REPO_ROOT / "instance").resolve())


def _instance_secret(path: Path, make, generated: list | None = None) -> str:
    """Read a generated secret from the instance folder, creating it owner-only on first start
    (and then naming it in `generated`)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    if generated is not None:
        generated.append(str(path))
    return value
