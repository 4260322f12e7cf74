"""Authorized agents: the request form, and the consumer's confirmation of an agent."""
