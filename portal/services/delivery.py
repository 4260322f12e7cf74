"""Everything the outbox loop delivers, in each pass: mail, signed notices to recipients, and DRP
status callbacks to agents (the web process's background thread, or `flask worker`)."""
from . import drp_callbacks, mail, webhooks

DELIVERERS = (mail.deliver_for_app, webhooks.deliver_for_app, drp_callbacks.deliver_for_app)
