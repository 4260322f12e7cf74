"""Client businesses' pages: a client answers a forwarded request (its single-use link, or a signed
webhook reply), and sends its own requests through the signed API. English only, like the notices."""
