"""Consent receipts: a visitor's record shown with the fields of the Kantara Initiative Consent
Receipt (v1.1), in the visitor's language."""
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from ...models import ConsentRecord
from .choices import Category, Snapshot, categories


def policy_url() -> str:
    return current_app.config.get("CONSENT_POLICY_URL") or current_app.config["BASE_URL"].rstrip("/") + "/privacy"


def collection_method(source: str) -> str:
    return {"banner": _("Cookie banner on the privacy portal"),
            "center": _("Cookie-preference center on the privacy portal"),
            "api": _("Cookie banner on the business's website (consent API)"),
            "gpc": _("Global Privacy Control signal sent by the browser (Sec-GPC)")}[source]


def purpose_status(category: Category, record: ConsentRecord | Snapshot) -> str:
    if category.required:
        return "always_on"
    if category.key not in record.choices:
        return "not_chosen"
    return "granted" if record.choices[category.key] else "declined"


def receipt(record: ConsentRecord) -> dict:
    """A consent receipt with the fields of the Kantara Initiative Consent Receipt (v1.1)."""
    cfg = current_app.config
    purposes = []
    for c in categories():
        status = purpose_status(c, record)
        by_signal = c.sale_or_sharing and record.gpc and status == "declined"
        purposes.append({
            "purpose": str(c.label), "purposeCategory": [c.key], "purposeDescription": str(c.description),
            "consentType": "NOT_REQUIRED" if c.required else ("OPT_OUT_PREFERENCE_SIGNAL" if by_signal else "EXPLICIT"),
            "status": status, "primaryPurpose": c.required, "thirdPartyDisclosure": c.sale_or_sharing,
            "termination": _("Until you change your choice or the policy version changes."),
        })
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": cfg["CONSENT_JURISDICTION"],
        "consentTimestamp": int(record.created_at.timestamp()),
        "consentTime": record.created_at.isoformat(),
        "collectionMethod": collection_method(record.source),
        "source": record.source,
        "consentReceiptID": record.receipt_id,
        "language": str(get_locale() or "en"),
        "piiPrincipalId": record.consent_id,
        "piiControllers": [{"piiController": cfg["ORG_NAME"], "contact": _("Privacy team"),
                            "email": cfg["PRIVACY_EMAIL"], "phone": cfg["PRIVACY_PHONE"],
                            "piiControllerUrl": cfg["BASE_URL"]}],
        "policyUrl": policy_url(),
        "policyVersion": record.policy_version,
        "globalPrivacyControl": record.gpc,
        "services": [{"service": _("Cookies and similar technologies on %(org)s websites", org=cfg["ORG_NAME"]),
                      "purposes": purposes}],
        "sensitive": False,
        "spiCat": [],
    }
