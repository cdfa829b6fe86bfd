"""HubSpot (CRM v3) connector: a PRM lead is a deal with its contact. ``client`` (bearer
auth: private app token or OAuth with refresh; 10-second, search and daily limits),
``mapping``, ``sync`` (batch writes, matching, polling), ``webhooks`` (signature v3) and
``forms`` (the console form)."""
