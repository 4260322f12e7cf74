"""What the business's website shows: the JSON of GET /api/consent and the banner's texts, in
the visitor's language (never asking about sale/sharing within 12 months of an opt-out)."""
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from ...urls import external_url
from .choices import ConsentState


def api_view(state: ConsentState, *, token: str) -> dict:
    """The JSON the business's site reads; banner texts only for a visitor who has not chosen."""
    view = {
        "policy_version": state.policy_version,
        "decided": state.decided,
        "choices": state.choices,
        "gpc": {"signal": state.gpc_signal, "honored": state.gpc_honored,
                "applied_at": state.gpc_applied_at.isoformat() if state.gpc_applied_at else None},
        "updated_at": state.updated_at.isoformat() if state.updated_at else None,
        "sale_opt_in_needs_confirmation": state.sale_opted_out,
        "receipt_id": state.snapshot.receipt_id if state.snapshot else None,
        "token": token,
    }
    if state.gpc_signal:  # §7025(c)(6): whether the signal was honored, whenever it is present
        view["gpc"]["notice"] = {"title": _("Opt-Out Request Honored"), "detail": _(
            "Your browser sent a Global Privacy Control signal. We treat it as your request to opt "
            "out of the sale and sharing of your personal information, so advertising stays off.")}
    if state.confirmation_needed:
        view["confirm_url"] = external_url("consent.confirm_sale")
    if not state.decided:
        view["banner"] = banner_texts(state)
    return view


def banner_intro(state: ConsentState) -> str:
    """What the banner says it asks about: never sale/sharing within 12 months of an opt-out."""
    asked = state.asked_categories
    labels = ", ".join(str(c.label) for c in asked)
    if any(c.sale_or_sharing for c in asked):
        return _("We use strictly necessary cookies to run our sites. With your permission we would also "
                 "use: %(list)s. Advertising cookies would mean selling or sharing your personal information.",
                 list=labels)
    return _("We use strictly necessary cookies to run our sites. With your permission we would also use: "
             "%(list)s.", list=labels)


def collection_notice() -> str:
    """§1798.100(a)(3), §7012: what the banner's choice records, why and for how long."""
    return _("When you choose, we record your choices, the time, our policy's version and whether your browser "
             "sends Global Privacy Control, under a random identifier kept in a cookie, to honor them and to "
             "show that we did. We keep each record for %(days)s days.",
             days=current_app.config["RETENTION_CONSENT_DAYS"])


def banner_texts(state: ConsentState) -> dict:
    return {
        "title": _("Your cookie choices"),
        "intro": banner_intro(state),
        "notice": collection_notice(), "policy": _("Our privacy policy"),
        "accept": _("Accept all"), "reject": _("Reject all"), "customize": _("Choose by category"),
        "gpc_honored": _("Opt-Out Request Honored"),
        "gpc_detail": _("Your browser sent a Global Privacy Control signal. We treat it as your request to opt "
                        "out of the sale and sharing of your personal information, so advertising stays off."),
        "opt_out": _("Do Not Sell or Share My Personal Information"),
        "saved": _("Your cookie choices are saved. You can change them at any time."),
        "error": _("We could not save your choice. Please try again."),
        "links": _banner_links(),
    }


def _banner_links() -> dict:
    """The banner's links open the portal in the language the banner is shown in."""
    lang = str(get_locale())
    extra = {} if lang == current_app.config["LANGUAGES"][0] else {"lang": lang}
    return {"preferences": external_url("consent.preferences", **extra),
            "opt_out": external_url("public.new_request", type="opt_out", **extra),
            "policy": external_url("public.privacy_policy", **extra)}
