"""Analytics: daily rollups (kept current by the click flush and after every change
of leads, conversions and money), the period picker, the dashboard's figures, the
reports' rows and the partner's stats. Pages read the rollups, never the raw rows."""
