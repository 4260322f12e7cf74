"""PDFs that hide an automatic action from a byte scanner: built byte by byte, real xref streams."""
import binascii
import struct
import zlib

JS_ACTION = b"<< /S /JavaScript /JS (app.alert(1)) >>"


def _objstm(inner: bytes, dict_head: bytes, encode) -> bytes:
    """An object stream holding object 7 = `inner`, its dictionary starting with `dict_head`."""
    header = b"7 0 "
    raw = encode(header + inner)
    return (b"<< " + dict_head + b" /N 1 /First %d /Length %d >>\nstream\n" % (len(header), len(raw))
            + raw + b"\nendstream")


def _flate(data: bytes) -> bytes:
    return zlib.compress(data)


# The five encodings the byte scanner missed (issue 15, finding 2).
EVASIONS = {
    "flate_twice": (b"/Type /ObjStm /Filter [/FlateDecode /FlateDecode]", lambda d: _flate(_flate(d))),
    "ascii_hex": (b"/Type /ObjStm /Filter /ASCIIHexDecode", lambda d: binascii.hexlify(d) + b">"),
    "escaped_type": (b"/Type /Obj#53tm /Filter /FlateDecode", _flate),
    "escaped_filter": (b"/Type /ObjStm /Filter /Fl#61teDecode", _flate),
    "filter_far_before": (b"/Filter /FlateDecode /Padding (" + b"x" * 2100 + b") /Type /ObjStm", _flate),
}


def pdf_with_object_stream(inner: bytes = JS_ACTION, dict_head: bytes = b"/Type /ObjStm /Filter /FlateDecode",
                           encode=_flate, open_action: bool = True) -> bytes:
    """A one-page PDF 1.5 whose catalog's /OpenAction is object 7, kept in an object stream (6)
    and found through a cross-reference stream (8), as modern writers do."""
    content = b"BT /F1 12 Tf 72 720 Td (Signed permission) Tj ET"
    action = b"/OpenAction 7 0 R " if open_action else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + action + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        _objstm(inner, dict_head, encode),
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    rows += [struct.pack(">BIH", 1, o, 0) for o in offsets]
    rows += [struct.pack(">BIH", 2, 6, 0), struct.pack(">BIH", 1, xref_at, 0)]  # 7 in stream 6; 8 = this
    table = b"".join(rows)
    out += (b"8 0 obj\n<< /Type /XRef /Size 9 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % len(table)
            + table + b"\nendstream\nendobj\n")
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)
