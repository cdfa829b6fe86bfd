"""amoCRM (API v4) connector: ``client`` (HTTP, auth, paging, limits), ``mapping``
(neutral records <-> amo JSON), ``sync`` (the Connector), ``webhooks`` (inbound events
and subscription), ``forms`` (the console's connection form)."""
