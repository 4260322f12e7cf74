"""§7024(d): the disclosure scan finds what the issue's probes slipped past it: an SSN without dashes,
a member ID under a generic column name (JSON and CSV), a value that labels itself in free text; and
leaves ordinary numbers alone."""
import json

import pytest

from portal.services.documents import disclosure_scan


@pytest.mark.parametrize("value", ["123456789", "123 45 6789", " 123.45.6789 "])
def test_an_ssn_without_dashes_is_found_and_masked(value):
    findings, masked = disclosure_scan.scan("json", json.dumps({"tax": value}).encode())
    assert [f.kind for f in findings] == ["ssn"] and json.loads(masked) == {"tax": "collected: yes"}


@pytest.mark.parametrize("value", ["000123456", "666123456", "912345678", "WC-123456789", "Claim 2026-0415",
                                   "(909) 698-8120", "91761"])
def test_ordinary_numbers_are_left_alone(value):
    findings, _masked = disclosure_scan.scan("json", json.dumps({"note": value}).encode())
    assert findings == []


def test_a_member_id_under_a_generic_name_is_masked_in_json_and_csv():
    data = {"identifiers": [{"type": "Health plan member ID", "value": "XJH448812"},
                            {"type": "Claim number", "value": "WC-1"}]}
    findings, masked = disclosure_scan.scan("json", json.dumps(data).encode())
    assert [(f.field, f.kind) for f in findings] == [("identifiers[0].value", "medical_id")]
    assert json.loads(masked)["identifiers"] == [{"type": "Health plan member ID", "value": "collected: yes"},
                                                 {"type": "Claim number", "value": "WC-1"}]
    csv_text = b"label,number\nMember ID,XJH448812\nClaim number,WC-1\n"
    findings, masked = disclosure_scan.scan("csv", csv_text)
    assert [(f.field, f.kind) for f in findings] == [("number", "medical_id")]
    assert masked.decode().splitlines()[1:] == ["Member ID,collected: yes", "Claim number,WC-1"]


@pytest.mark.parametrize(("text", "kind"), [("Member ID: XJH448812", "medical_id"), ("SSN 123456789", "ssn"),
                                            ("Your account number is 4400 1234", "financial_account")])
def test_a_value_labelled_in_free_text_is_found(text, kind):
    assert [f.kind for f in disclosure_scan.text_findings(f"Hello.\n{text}\nBye.", "message")] == [kind]
    assert disclosure_scan.text_findings("We hold your claim WC-1 and your account with us.", "message") == []
