"""The cookie-preference center, its banner, the consent API and the GPC declaration."""
