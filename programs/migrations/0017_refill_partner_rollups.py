# The rollups PartnerPeriod and PartnerActivity refilled per program and kind (a
# migration of its own: the previous one's deferred index creation cannot share a
# transaction with these rows' pending foreign-key checks).

from django.db import migrations

# programs.analytics.rollup_sql's statements as of this migration: the rows of both
# tables are thrown away and computed again from ClickDay and ActivityDay (the daily
# rollups, unchanged), now per program and kind.
PERIOD_CLICKS_REBUILD = """INSERT INTO programs_partnerperiod (tenant_id, span, start, program_id, partner_id, kind, currency, clicks, visitors, leads, leads_converted, leads_rejected, leads_refunded, leads_duplicate, leads_flagged, conversions, conversions_refunded, conversions_flagged, revenue, refunded, accrued, approved, paid, clawed_back)
SELECT tenant_id, s.span, date_trunc(s.span, day)::date, program_id, partner_id, kind, '',
       sum(clicks), sum(visitors), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
FROM programs_clickday CROSS JOIN (VALUES ('week'), ('month')) AS s(span)
WHERE tenant_id = %(tenant)s AND day >= %(since)s
GROUP BY 1, 2, 3, 4, 5, 6"""

PERIOD_ACTIVITY_REBUILD = """INSERT INTO programs_partnerperiod (tenant_id, span, start, program_id, partner_id, kind, currency, clicks, visitors, leads, leads_converted, leads_rejected, leads_refunded, leads_duplicate, leads_flagged, conversions, conversions_refunded, conversions_flagged, revenue, refunded, accrued, approved, paid, clawed_back)
SELECT tenant_id, s.span, date_trunc(s.span, day)::date, program_id, partner_id, kind, currency,
       0, 0, sum(leads), sum(leads_converted), sum(leads_rejected), sum(leads_refunded), sum(leads_duplicate), sum(leads_flagged), sum(conversions), sum(conversions_refunded), sum(conversions_flagged), sum(revenue), sum(refunded), sum(accrued), sum(approved), sum(paid), sum(clawed_back)
FROM programs_activityday CROSS JOIN (VALUES ('week'), ('month')) AS s(span)
WHERE tenant_id = %(tenant)s AND day >= %(since)s
GROUP BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT (tenant_id, span, start, program_id, partner_id, kind, currency)
DO UPDATE SET leads = EXCLUDED.leads, leads_converted = EXCLUDED.leads_converted, leads_rejected = EXCLUDED.leads_rejected, leads_refunded = EXCLUDED.leads_refunded, leads_duplicate = EXCLUDED.leads_duplicate, leads_flagged = EXCLUDED.leads_flagged, conversions = EXCLUDED.conversions, conversions_refunded = EXCLUDED.conversions_refunded, conversions_flagged = EXCLUDED.conversions_flagged, revenue = EXCLUDED.revenue, refunded = EXCLUDED.refunded, accrued = EXCLUDED.accrued, approved = EXCLUDED.approved, paid = EXCLUDED.paid, clawed_back = EXCLUDED.clawed_back"""

ACTIVE_REBUILD = """INSERT INTO programs_partneractivity (tenant_id, month, partner_id, program_id, kind, click_days, activity_days)
SELECT tenant_id, date_trunc('month', day)::date, partner_id, program_id, kind,
       bit_or(CASE WHEN click THEN (1 << (extract(day from day)::int - 1)) ELSE 0 END),
       bit_or(CASE WHEN click THEN 0 ELSE (1 << (extract(day from day)::int - 1)) END)
FROM (
    SELECT DISTINCT tenant_id, day, partner_id, program_id, kind, true AS click
    FROM programs_clickday
    WHERE (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s::uuid) AND day >= %(since)s
      AND clicks > 0
    UNION
    SELECT DISTINCT tenant_id, day, partner_id, program_id, kind, false FROM programs_activityday a
    WHERE (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s::uuid) AND day >= %(since)s
      AND partner_id IS NOT NULL AND (a.leads <> 0 OR a.leads_converted <> 0 OR a.leads_rejected <> 0 OR a.leads_refunded <> 0 OR a.leads_duplicate <> 0 OR a.leads_flagged <> 0 OR a.conversions <> 0 OR a.conversions_refunded <> 0 OR a.conversions_flagged <> 0 OR a.revenue <> 0 OR a.refunded <> 0 OR a.accrued <> 0 OR a.approved <> 0 OR a.paid <> 0 OR a.clawed_back <> 0)
) x
GROUP BY 1, 2, 3, 4, 5"""


def refill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DELETE FROM programs_partnerperiod")
        cursor.execute("DELETE FROM programs_partneractivity")
        cursor.execute("SELECT id FROM prm_tenant ORDER BY id")
        for (tenant,) in cursor.fetchall():
            params = {"tenant": str(tenant), "since": "1970-01-01"}
            cursor.execute(PERIOD_CLICKS_REBUILD, params)
            cursor.execute(PERIOD_ACTIVITY_REBUILD, params)
        cursor.execute(ACTIVE_REBUILD, {"tenant": None, "since": "1970-01-01"})


class Migration(migrations.Migration):
    dependencies = [("programs", "0016_rollups_by_program_and_kind")]

    operations = [migrations.RunPython(refill, migrations.RunPython.noop)]
