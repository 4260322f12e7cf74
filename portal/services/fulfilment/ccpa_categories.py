"""The CCPA's categories of personal information, and which fideslang data categories fall in each.

`CATEGORIES` is the statute's list: Cal. Civ. Code §1798.140(v)(1)(A)-(K), and the kinds of
sensitive personal information of §1798.140(ae) (together category (L)), each with the words a
privacy policy uses for it. `BY_FIDESLANG_PREFIX` maps prefixes of the fideslang default taxonomy
(fideslang/default_taxonomy/data_categories.py) to one of them; the longest prefix of a field's
data category wins, and a rule's `ccpa_category` overrides the result.

Where the taxonomy and the statute do not line up, the choice is written beside the entry. A
business that holds data for another purpose (biometric data used to identify people, private
content the business is not the intended recipient of) says so with `ccpa_category` on its rule.
"""
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class CcpaCategory:
    key: str
    label: str
    citation: str
    sensitive: bool
    # The statute's own words for the category: a privacy policy names it when one of them appears.
    policy_terms: tuple[str, ...]


def _category(key, label, citation, *terms, sensitive=False) -> CcpaCategory:
    return CcpaCategory(key=key, label=label, citation=f"Cal. Civ. Code {citation}", sensitive=sensitive,
                        policy_terms=terms)


_SENSITIVE_TERM = "sensitive personal information"
_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u2010": "-", "\u2011": "-"})

CATEGORIES: dict[str, CcpaCategory] = {c.key: c for c in (
    _category("identifiers", "Identifiers", "§1798.140(v)(1)(A)", "identifiers"),
    _category("customer_records", "Personal information categories listed in the California Customer Records "
              "statute", "§1798.140(v)(1)(B), §1798.80(e)", "customer records"),
    _category("protected_classifications", "Characteristics of protected classifications under California or "
              "federal law", "§1798.140(v)(1)(C)", "protected classification"),
    _category("commercial", "Commercial information", "§1798.140(v)(1)(D)", "commercial information"),
    _category("biometric", "Biometric information", "§1798.140(v)(1)(E)", "biometric information"),
    _category("internet_activity", "Internet or other electronic network activity information",
              "§1798.140(v)(1)(F)", "internet or other electronic network activity", "internet activity",
              "network activity"),
    _category("geolocation", "Geolocation data", "§1798.140(v)(1)(G)", "geolocation"),
    _category("sensory", "Audio, electronic, visual, thermal, olfactory, or similar information",
              "§1798.140(v)(1)(H)", "audio, electronic, visual", "sensory information"),
    _category("professional", "Professional or employment-related information", "§1798.140(v)(1)(I)",
              "professional or employment-related", "professional or employment related"),
    _category("education", "Education information", "§1798.140(v)(1)(J)", "education information"),
    _category("inferences", "Inferences drawn to create a profile", "§1798.140(v)(1)(K)", "inferences"),
    _category("sensitive_government_id", "Social Security, driver's license, state identification card or "
              "passport number", "§1798.140(ae)(1)(A)", "social security", "driver's license", "passport",
              sensitive=True),
    _category("sensitive_account_login", "Account log-in with the password or credentials that give access",
              "§1798.140(ae)(1)(B)", "log-in", "login", "credentials", sensitive=True),
    _category("sensitive_precise_geolocation", "Precise geolocation", "§1798.140(ae)(1)(C)",
              "precise geolocation", sensitive=True),
    _category("sensitive_origin_beliefs", "Racial or ethnic origin, citizenship or immigration status, religious "
              "or philosophical beliefs, or union membership", "§1798.140(ae)(1)(D)", "racial or ethnic origin",
              "citizenship", "immigration status", "religious", "philosophical beliefs", "union membership",
              sensitive=True),
    _category("sensitive_communications", "Contents of mail, email and text messages the business is not the "
              "intended recipient of", "§1798.140(ae)(1)(E)", "contents of", sensitive=True),
    _category("sensitive_genetic", "Genetic data", "§1798.140(ae)(1)(F)", "genetic", sensitive=True),
    _category("sensitive_biometric", "Biometric information processed to identify a consumer",
              "§1798.140(ae)(2)(A)", "biometric", sensitive=True),
    _category("sensitive_health", "Personal information collected and analyzed concerning health",
              "§1798.140(ae)(2)(B)", "health", "medical", sensitive=True),
    _category("sensitive_sex_life", "Personal information collected and analyzed concerning sex life or sexual "
              "orientation", "§1798.140(ae)(2)(C)", "sex life", "sexual orientation", sensitive=True),
)}

BY_FIDESLANG_PREFIX: dict[str, str] = {
    "user.account": "identifiers",  # an account name (A)
    "user.authorization": "sensitive_account_login",
    "user.authorization.biometric": "sensitive_biometric",  # used to sign in, so to identify
    "user.behavior": "internet_activity",
    "user.behavior.purchase_history": "commercial",
    "user.biometric": "biometric",
    "user.biometric.health": "sensitive_health",
    # Children's data: age is the protected characteristic the taxonomy's label points at.
    "user.childrens": "protected_classifications",
    "user.contact": "identifiers",  # real name, postal address, email address (A)
    "user.contact.phone_number": "customer_records",  # §1798.80(e) names the telephone number, (A) does not
    "user.contact.fax_number": "customer_records",
    "user.contact.organization": "professional",
    "user.content": "sensory",  # electronic information the person made or shared
    "user.content.private": "sensitive_communications",
    "user.criminal_history": "professional",  # background-check data; override where held for another purpose
    "user.demographic": "protected_classifications",  # age, sex, marital status, language
    "user.demographic.profile": "inferences",
    "user.demographic.political_opinion": "sensitive_origin_beliefs",  # philosophical beliefs
    "user.demographic.race_ethnicity": "sensitive_origin_beliefs",
    "user.demographic.religious_belief": "sensitive_origin_beliefs",
    "user.demographic.sexual_orientation": "sensitive_sex_life",
    "user.device": "internet_activity",
    "user.device.cookie_id": "identifiers",  # online identifier (A)
    "user.device.device_id": "identifiers",
    "user.device.ip_address": "identifiers",
    "user.financial": "customer_records",  # bank account, credit or debit card number (§1798.80(e))
    "user.government_id": "sensitive_government_id",
    "user.government_id.birth_certificate": "identifiers",
    "user.government_id.vehicle_registration": "identifiers",
    "user.government_id.immigration": "sensitive_origin_beliefs",
    "user.health_and_medical": "sensitive_health",
    "user.health_and_medical.genetic": "sensitive_genetic",
    "user.job_title": "professional",
    "user.location": "geolocation",
    "user.location.precise": "sensitive_precise_geolocation",
    "user.name": "identifiers",
    "user.payment": "customer_records",
    # Consent and cookie choices: a record of the person's interaction with a website.
    "user.privacy_preferences": "internet_activity",
    "user.sensor": "sensory",
    "user.social": "internet_activity",
    "user.telemetry": "internet_activity",
    "user.unique_id": "identifiers",
    "user.user_sensor": "sensory",
    "user.workplace": "professional",
}


def prefix_length(prefix: str, category: str) -> int:
    """How many dotted parts of `category` the `prefix` matches (0: it does not match)."""
    if category == prefix or category.startswith(prefix + "."):
        return prefix.count(".") + 1
    return 0


def for_fideslang_category(category: str) -> CcpaCategory | None:
    """The CCPA category of a fideslang data category, by its longest mapped prefix; None: unmapped."""
    best = max(BY_FIDESLANG_PREFIX, key=lambda prefix: prefix_length(prefix, category))
    if not prefix_length(best, category):
        return None
    return CATEGORIES[BY_FIDESLANG_PREFIX[best]]


def is_personal(category: str) -> bool:
    """Whether a data category is about a person (fideslang's `user` tree), so must have a CCPA category."""
    return prefix_length("user", category) > 0


def normalised(text: str) -> str:
    """Policy text compared word for word: compatibility forms, lower case, straight apostrophes,
    every run of spaces and line breaks one space."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_TYPOGRAPHIC)
    return re.sub(r"\s+", " ", text)


def _says(term: str, text: str) -> bool:
    """The term as whole words (a plural too): "health" is not found in "healthcare"."""
    return re.search(rf"(?<![a-z]){re.escape(term)}s?(?![a-z])", text) is not None


def named_in(category: CcpaCategory, normalised_text: str) -> bool:
    """Whether a normalised policy text names the category (and calls sensitive ones sensitive)."""
    found = any(_says(term, normalised_text) for term in category.policy_terms)
    return found and (not category.sensitive or _says(_SENSITIVE_TERM, normalised_text))
