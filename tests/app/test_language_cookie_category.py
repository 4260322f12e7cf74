"""The language cookie is strictly necessary (it keeps the visitor's own choice): the "Functional"
category, which can be refused, does not claim it, in either language."""


def test_the_language_cookie_is_strictly_necessary_not_functional(client):
    page = client.get("/preferences?lang=en").get_data(as_text=True)
    necessary = page[page.index("Strictly necessary"):page.index("Functional", page.index("Strictly necessary"))]
    functional = page[page.index("Functional", page.index("Strictly necessary")):page.index("Analytics")]
    assert "the language you choose" in necessary and "language" not in functional
    page = client.get("/preferences?lang=es").get_data(as_text=True)
    assert "el idioma que usted elige" in page and "como su idioma" not in page
