"""Health information requests: a request that asks for medical records or other protected health
information. The business holds PHI as a business associate of the covered entities it bills for;
access to PHI runs through the covered entity (45 CFR 164.524), which must act within 30 days of
receiving the request (164.524(b)(2)). Such a request is not refused as "exempt from the CCPA" with
nothing said: each client found is named, and forwarded to or explained with this deadline."""
import re
from datetime import date, timedelta

from flask import current_app

from ... import lifecycle
from ...models import PrivacyRequest

CITATION = "45 CFR 164.524"
# What a requester writes when asking for health information, in the portal's two languages.
_ASKS = re.compile(
    r"\b(medical|health|clinical|patient|treatment|hospital|doctor'?s?)\s+(records?|files?|charts?|information|notes|history)\b"
    r"|\bPHI\b|\bHIPAA\b|\bmedical\s+bills?\b"
    r"|\b(historia|expediente|registros?|informaci[oó]n|archivos?)\s+(cl[ií]nic[oa]s?|m[eé]dic[oa]s?|de\s+salud)\b",
    re.IGNORECASE)


def asks_for_health_information(req: PrivacyRequest) -> bool:
    """Whether the request, in what the requester wrote, asks for medical records or PHI."""
    return req.request_type == "access" and bool(_ASKS.search(" ".join(filter(None, (req.details,)))))


def due(req: PrivacyRequest) -> date:
    """When the covered entity's answer is due: HIPAA_ACCESS_DAYS (30) from the request's receipt."""
    return lifecycle.local_date(req.received_at) + timedelta(days=int(current_app.config["HIPAA_ACCESS_DAYS"]))
