"""What the map writes for staff, from the case's plan: drafts they confirm or edit, never sent alone.

- A categories request's answer (§1798.110(a)): the CCPA categories of the systems where an item
  recorded the person as found; the recipients part from the map's recipients of those systems.
  Sources, purposes and the categories disclosed for a business purpose (or sold or shared), with
  their recipients, come from the `systems:` entries' policy texts where the business gave them, in
  the request's language (`policy_lines`).
- A deletion's or correction's explanation of what was kept (§7022(f), §7023): each kept CCPA
  category with its basis and citation, from the plan's items that retain data (a deletion's
  `retain`, a correction's `refer` with a basis; an item whose system did not hold the person kept
  nothing); for a deletion, what was erased, by category.
"""
from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from ...models import FulfilmentItem, PrivacyRequest, Recipient
from ..cases import notices, outcomes
from .ccpa_categories import CATEGORIES
from .datamap import in_language
from .plan import configured_map, items_for


def _found(items: list[FulfilmentItem]) -> list[FulfilmentItem]:
    return [i for i in items if i.found]


def _labels(keys) -> list[str]:
    return [CATEGORIES[k].label for k in dict.fromkeys(keys) if k in CATEGORIES]


def kept(items: list[FulfilmentItem], request_type: str) -> list[dict]:
    """What was kept, by CCPA category: {"category", "basis", "label", "citation", "systems"}."""
    bases = outcomes.all_bases()
    by_key: dict[tuple[str, str], dict] = {}
    for item in items:
        if item.found is False:
            continue  # the person was not there: nothing was kept
        for entry in (item.detail or {}).get("retained", []):
            basis = bases.get(entry["basis"] or "", {})
            row = by_key.setdefault((entry["ccpa"], entry["basis"]), {
                "category": CATEGORIES[entry["ccpa"]].label if entry["ccpa"] in CATEGORIES else entry["ccpa"],
                "basis": entry["basis"], "label": basis.get("label", entry["basis"]),
                "citation": outcomes.basis_citation(basis, request_type) if basis else "", "systems": []})
            if item.system_name not in row["systems"]:
                row["systems"].append(item.system_name)
    return list(by_key.values())


def completion_draft(session: Session, req: PrivacyRequest) -> dict[str, str]:
    """The completion form's fields the plan can fill (field name -> text); empty without a plan."""
    items = items_for(session, req)
    if not items:
        return {}
    draft: dict[str, str] = {}
    if req.request_type == "access" and req.access_scope != "specific":
        found = _found(items)
        draft["answer_categories"] = "\n".join(_labels(k for i in found for k in (i.detail or {}).get("categories", [])))
        draft["answer_recipients"] = "\n".join(recipient_lines(session, found))
        draft.update({f"answer_{part}": "\n".join(lines) for part, lines in policy_lines(found, req.language).items()
                      if lines})
    if req.request_type in ("delete", "correct"):
        rows = kept(items, req.request_type)
        if rows:
            draft["kept_summary"] = "\n".join(
                f"{r['category']}: kept under {r['label']} ({r['citation']}), in {', '.join(r['systems'])}." for r in rows)
            draft["covered_categories"] = ", ".join(dict.fromkeys(r["category"] for r in rows))
            codes = list(dict.fromkeys(r["basis"] for r in rows))
            if len(codes) == 1 and codes[0] in outcomes.denial_bases(req.request_type):
                draft["kept_basis"] = codes[0]
        if req.request_type == "delete":
            erased = _labels(k for i in _found(items) for k in (i.detail or {}).get("erased", []))
            if erased:
                draft["deleted_summary"] = "Deleted or deidentified: " + ", ".join(erased) + "."
    return draft


def recipient_lines(session: Session, items: list[FulfilmentItem]) -> list[str]:
    """The map's recipients of these items' systems, by kind when configured under Recipients."""
    configured = {r.name: r for r in session.execute(select(Recipient)).scalars()}
    lines = []
    for name in dict.fromkeys((i.detail or {}).get("recipient") for i in items):
        if not name:
            continue
        recipient = configured.get(name)
        lines.append(f"{notices.KINDS[recipient.kind]}: {name}" if recipient else name)
    return lines


def policy_lines(items: list[FulfilmentItem], language: str) -> dict[str, list[str]]:
    """The categories answer's parts the map's policy texts fill, from the systems where the person
    was found: sources, purposes, and by category what was disclosed (or sold or shared) to whom."""
    datamap = configured_map()
    parts: dict[str, list[str]] = {"sources": [], "purposes": [], "disclosed": [], "sold_or_shared": []}
    for item in items:
        system = datamap.system_for(item.system)
        if system is None:
            continue
        labels = _labels((item.detail or {}).get("categories", []))
        parts["sources"] += [in_language(t, language) for t in system.sources]
        parts["purposes"] += [in_language(t, language) for t in system.purposes]
        for key, texts in (("disclosed", system.disclosed_to), ("sold_or_shared", system.sold_or_shared_to)):
            if texts and (key == "disclosed" or current_app.config.get("SELLS_OR_SHARES")):
                to = ", ".join(in_language(t, language) for t in texts)
                parts[key] += [f"{label}: {to}" for label in labels]
    return {part: list(dict.fromkeys(lines)) for part, lines in parts.items()}
