"""Everything the outbox loop delivers, in each pass: mail, signed notices to recipients, and DRP
status callbacks to agents (the web process's background thread, or `flask worker`). Each is a
channel of the one delivery core, services/outbox.py; the loops are in services/worker.py."""
from ..drp import callbacks as drp_callbacks
from . import mail, webhooks

DELIVERERS = (mail.deliver_for_app, webhooks.deliver_for_app, drp_callbacks.deliver_for_app)
