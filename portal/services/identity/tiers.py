"""How sure the business must be of who asks (§7062): the data points a request needs to match,
whether it needs the signed declaration under penalty of perjury, and which points a correction
cannot verify itself with (§7060(h)). The numbers are configuration (VERIFICATION_TIERS,
DECLARATION_REQUIRED_TYPES); these functions are the one place that reads them."""
from flask import current_app

from ...models import PrivacyRequest

# A correction's disputed fields, by the point they feed (§7060(h): they cannot verify it).
CORRECTION_FIELD_POINTS = {"name": "name_dob", "date_of_birth": "name_dob", "email": "email", "phone": "phone",
                           "claim_number": "claim_number", "date_of_injury": "date_of_injury",
                           "employer": "employer", "postal_code": "postal_code"}


def points_required(req: PrivacyRequest) -> int:
    """How many data points must match for this request: 3 for specific pieces, delete and correct,
    2 otherwise, by default."""
    tiers = current_app.config["VERIFICATION_TIERS"]
    if req.request_type == "access":
        return int(tiers["access_specific" if req.access_scope == "specific" else "access_categories"])
    return int(tiers.get(req.request_type, tiers["access_categories"]))


def categories_tier() -> int:
    """The points a categories request needs (a specific-pieces request that matches only this many
    is answered with categories)."""
    return int(current_app.config["VERIFICATION_TIERS"]["access_categories"])


def declaration_required(request_type: str, access_scope: str | None) -> bool:
    """§7062: specific pieces always; delete and correct as configured (the high tier)."""
    if request_type == "access":
        return access_scope == "specific"
    return request_type in current_app.config["DECLARATION_REQUIRED_TYPES"]


def declaration_needed(req: PrivacyRequest) -> bool:
    """Whether this case needs the signed declaration."""
    return declaration_required(req.request_type, req.access_scope)


def excluded_points(req: PrivacyRequest) -> set[str]:
    """§7060(h): the points a correction disputes do not count to verify it."""
    if req.request_type != "correct" or not req.correction_points:
        return set()
    return {CORRECTION_FIELD_POINTS[f] for f in req.correction_points.split(",") if f in CORRECTION_FIELD_POINTS}
