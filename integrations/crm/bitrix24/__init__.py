"""Bitrix24 REST connector: PRM leads become Bitrix24 leads (or a contact plus a deal).

Two ways in: an inbound webhook URL (the URL is the whole credential) or an OAuth app
(hourly access tokens, rotating refresh tokens from oauth.bitrix.info). Every write and
every lookup goes through ``batch`` (50 commands per request), because the portal's
leaky bucket (2 requests/s, burst 50) counts HTTP requests, not commands.
"""
