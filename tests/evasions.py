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


# ---- what a viewer reading another cross-reference table sees (issue 35) ----------------------

HIDDEN_CATALOG = b"<< /Type /Catalog /Pages %d 0 R /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>"


def linearized(data: bytes) -> bytes:
    """The same PDF as qpdf writes it linearized ("fast web view"): a first-page cross-reference
    table right after the linearization dictionary, the rest at the end."""
    import io

    import pikepdf
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.save(out, linearize=True)
    return out.getvalue()


def linearized_with_hidden_open_action(data: bytes, *, new_number: bool) -> bytes:
    """A real linearized PDF altered as an attacker would. A catalog with a JavaScript /OpenAction
    is appended to the body, then a complete, clean cross-reference table, which the last
    `startxref` now names: qpdf (which reads from the last startxref) sees the clean catalog. The
    first-page table, which pdf.js reads in a linearized file, is pointed at the hidden catalog:

    - `new_number=False`: the hidden catalog reuses the catalog's number, and the first-page
      table's entry for it now holds the hidden one's offset (same width, edited in place);
    - `new_number=True`: the hidden catalog has a number no table lists, and the first-page
      trailer's /Root names it: a reader that cannot find it rebuilds its table by scanning the
      body for object headers, as pdf.js does, and finds it there.

    The linearization dictionary's /L is set to the new length, so the file still counts as
    linearized (pdf.js ignores the first-page table when /L is not the file's length)."""
    import io
    import re

    import pikepdf
    original = linearized(data)
    with pikepdf.open(io.BytesIO(original)) as pdf:
        table = {num: entry.offset for (num, _gen), entry in pdf.get_xref_table().items() if entry.type == 1}
        root, pages = pdf.Root.objgen[0], pdf.Root.Pages.objgen[0]
    size = max(table) + 1
    hidden_number = size if new_number else root
    out = bytearray(original)
    hidden_at = len(out)
    out += b"%d 0 obj\n" % hidden_number + HIDDEN_CATALOG % pages + b"\nendobj\n"
    clean_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % table[n] for n in range(1, size))
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, clean_at)
    # The first-page table and its trailer: the first "xref" after the linearization dictionary.
    first_xref = out.index(b"xref", out.index(b"endobj"))
    first_trailer = out.index(b"trailer", first_xref)
    if new_number:
        old = b"/Root %d 0 R" % root
        new = b"/Root %d 0 R" % hidden_number
        assert len(old) == len(new), "the edit must keep every offset"
        at = out.index(old, first_trailer)
        out[at:at + len(old)] = new
    else:
        section = bytes(out[first_xref:first_trailer])
        start, count = (int(x) for x in section.split(b"\n")[1].split())
        assert start <= root < start + count, "the catalog is in the first-page table"
        line_at = first_xref + section.index(b"\n", section.index(b"\n") + 1) + 1 + 20 * (root - start)
        out[line_at:line_at + 10] = b"%010d" % hidden_at
    # /L: the file's length, written over the old value; the padding after the dictionary absorbs
    # a longer number, so nothing after it moves.
    head_end = out.index(b"endobj")
    head = bytes(out[:head_end])
    length = re.search(rb"/L (\d+)", head)
    grown = len(str(len(out))) - len(length.group(1))
    out[length.start(1):length.end(1)] = str(len(out)).encode()
    padding = out.index(b"endobj") + len(b"endobj")
    while grown > 0 and out[padding + 1:padding + 2] == b" ":
        del out[padding + 1]
        grown -= 1
    return bytes(out)


def first_page_view(data: bytes) -> bytes:
    """The catalog a linearization-aware viewer opens, read as pdf.js reads it: when the first
    object is a linearization dictionary whose /L is the file's length, the cross-reference table
    right after it (then its /Prev chain); an object no table lists is looked for by scanning the
    body for its header, the last one winning. Returns the catalog object's text."""
    import re
    head_end = data.index(b"endobj")
    length = re.search(rb"/Linearized.*?/L (\d+)", data[:head_end], re.S)
    assert length and int(length.group(1)) == len(data), "not linearized as pdf.js checks it"
    offsets: dict[int, int] = {}
    at = data.index(b"xref", head_end)
    root = None
    while at is not None:
        lines = data[at:data.index(b"trailer", at)].split(b"\n")[1:]
        i = 0
        while i < len(lines) and lines[i].strip():
            start, count = (int(x) for x in lines[i].split())
            for k in range(count):
                entry = lines[i + 1 + k].split()
                if entry[2] == b"n":
                    offsets.setdefault(start + k, int(entry[0]))
            i += 1 + count
        trailer = data[data.index(b"trailer", at):data.index(b"startxref", at)]
        if root is None:
            root = int(re.search(rb"/Root (\d+) 0 R", trailer).group(1))
        prev = re.search(rb"/Prev (\d+)", trailer)
        at = int(prev.group(1)) if prev else None
    if root in offsets:
        begin = offsets[root]
    else:  # the table does not list it: rebuilt by scanning the headers, the last definition wins
        begin = [m.start() for m in re.finditer(rb"(?<![0-9])%d 0 obj" % root, data)][-1]
    return data[begin:data.index(b"endobj", begin)]


def pdf_zip_polyglot(pdf_with_stream) -> bytes:
    """A PDF that is also a ZIP archive: the ZIP sits in an unfiltered stream (the last object),
    and the comment of its end-of-central-directory record runs to the end of the file, so the
    PDF's own table and trailer are the ZIP's comment. `pdf_with_stream(stream_object)` builds the
    PDF around the stream object."""
    import io
    import struct
    import zipfile
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("invoice.html", "<script>alert(document.domain)</script>")
    payload = archive.getvalue()
    data = bytearray(pdf_with_stream(b"<< /Length %d >>\nstream\n" % len(payload) + payload + b"\nendstream"))
    record = data.rindex(b"PK\x05\x06")
    data[record + 20:record + 22] = struct.pack("<H", len(data) - (record + 22))
    return bytes(data)
