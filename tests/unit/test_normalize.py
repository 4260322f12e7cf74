"""Identifier normalization: the same rule for the business's records and what a requester types."""
from datetime import date

import pytest

from portal import normalize


@pytest.mark.parametrize("typed", ["(909) 698-8120", "909-698-8120", "909.698.8120", "9096988120", "+1 909 698 8120",
                                   "1-909-698-8120", "+19096988120", " (909)698 8120 "])
def test_us_phone_formats_become_e164(typed):
    assert normalize.phone(typed) == "+19096988120"


@pytest.mark.parametrize("typed", ["", "   ", None, "12345", "not a phone", "(000) 000-0000"])
def test_unreadable_phones_are_none(typed):
    assert normalize.phone(typed) is None


def test_foreign_phone_keeps_its_country():
    assert normalize.phone("+52 55 1234 5678") == "+525512345678"


@pytest.mark.parametrize("first,last,other_first,other_last", [
    ("José", "García", "Jose", "GARCIA"),                  # accents dropped, case
    ("José", "García-López", "jose", "García López"),      # hyphen or space
    ("José", "García López", "José", "López García"),      # two surnames in either order
    ("Zoë", "O'Neil", "zoe", "ONeil".replace("N", " N")),  # apostrophe as a separator
    ("Ａｎａ", "Ruiz", "Ana", "Ruiz"),                        # full-width letters (NFKD)
    ("straße", "Weiß", "STRASSE", "WEISS"),                # casefold, not lower
])
def test_names_compare_consistently(first, last, other_first, other_last):
    assert normalize.name(first, last) == normalize.name(other_first, other_last)


def test_different_names_stay_different():
    assert normalize.name("Ana", "Ruiz") != normalize.name("Ana", "Ruiz Soto")
    assert normalize.name("Ana", "") is None


@pytest.mark.parametrize("typed,iso", [("1980-02-29", "1980-02-29"), ("02/29/1980", "1980-02-29"),
                                       ("2/9/1980", "1980-02-09"), (date(2024, 1, 5), "2024-01-05"),
                                       (" 1999-12-31 ", "1999-12-31")])
def test_dates_become_iso(typed, iso):
    assert normalize.iso_date(typed) == iso


@pytest.mark.parametrize("typed", ["1981-02-29", "13/01/1980", "yesterday", "", "1980-2"])
def test_impossible_dates_are_none(typed):
    assert normalize.iso_date(typed) is None


@pytest.mark.parametrize("typed", ["WC-2024-0017", "wc 2024 0017", "WC20240017", " wc-2024-0017 ", "WC/2024.0017"])
def test_claim_numbers_without_separators(typed):
    assert normalize.claim_number(typed) == "WC20240017"


def test_employer_and_postal_code():
    assert normalize.employer("Acme Roofing, Inc.") == normalize.employer("ACME ROOFING") == "acme roofing"
    assert normalize.postal_code("92373-1234") == normalize.postal_code("92373") == "92373"
    assert normalize.postal_code("9237") is None


@pytest.mark.parametrize("record,typed", [
    (("Siobhan", "O'Brien"), ("Siobhan", "OBrien")),                 # the apostrophe left out
    (("Siobhan", "O’Brien"), ("siobhan", "o brien")),                # a curly one, or a space
    (("María Elena", "Ramírez Gómez"), ("Maria", "Ramirez")),        # one given name, one surname
    (("María Elena", "Ramírez Gómez"), ("Elena", "Gomez")),          # the other ones
    (("María Elena", "Ramírez-Gómez"), ("María Elena", "Gómez Ramírez")),
    (("John", "Smith Jr."), ("John", "Smith")),                      # a suffix dropped
    (("John", "Smith"), ("John", "Smith Jr")),                       # or added
    (("Ana", "de la Cruz"), ("Ana", "Delacruz")),                    # particles run together
])
def test_name_forms_of_one_person_meet(record, typed):
    assert normalize.name_variants(*record) & normalize.name_variants(*typed)


@pytest.mark.parametrize("record,typed", [
    (("María Elena", "Ramírez Gómez"), ("Maria", "Lopez")),          # the given name alone
    (("María Elena", "Ramírez Gómez"), ("Ana", "Ramirez")),          # the surname alone
    (("Ana", "de la Cruz"), ("Ana", "de")),                           # a particle names no one
    (("Siobhan", "O'Brien"), ("Siobhan", "Brien")),
    (("John", "Smith"), ("Jon", "Smith")),
])
def test_other_names_do_not_meet(record, typed):
    assert not normalize.name_variants(*record) & normalize.name_variants(*typed)


@pytest.mark.parametrize("signature,first,last,ok", [
    ("Siobhan O'Brien", "Siobhan", "OBrien", True),
    ("Siobhan OBrien", "Siobhan", "O'Brien", True),
    ("siobhan o’brien", "Siobhan", "O'Brien", True),
    ("María Ramírez", "María Elena", "Ramírez Gómez", True),
    ("Maria Elena Ramirez Gomez", "María Elena", "Ramírez Gómez", True),
    ("John Smith", "John", "Smith Jr.", True),
    ("John Smith Jr.", "John", "Smith", True),
    ("Jane Smith", "John", "Smith", False),
    ("John", "John", "Smith", False),
    ("John Smith Jones", "John", "Smith", False),
    ("", "John", "Smith", False),
])
def test_a_signature_names_the_person_as_loosely_as_matching(signature, first, last, ok):
    assert normalize.signature_matches(signature, first, last) is ok
