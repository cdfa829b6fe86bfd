"""Salesforce connector: PRM leads as Salesforce Leads over the REST API (OAuth 2.0
web-server flow), changes read back by polling ``SystemModstamp``."""
