"""HubSpot (CRM v3) connector — PARTIAL: only ``webhooks`` (signature v3 check and
event parsing) exists so far. The client, mapping, sync and console form are not built,
so HubSpot is not in the registry or the provider choices yet (see README)."""
