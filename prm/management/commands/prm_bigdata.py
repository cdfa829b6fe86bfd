"""Build a large tenant (and many small ones) for benchmarks: ``manage.py prm_bigdata``.

At ``--scale 1`` the big tenant has 10,000 partners (users, profiles, enrollments), one
program every partner is in plus four smaller ones, 1,000,000 clicks over 90 days (a
tenth of them by the first partner, the "busy" one of the cabinet benchmark), 100,000
leads, 30,000 conversions, 120,000 rewards and their 200,000 ledger entries; 50 small
tenants are the same shape at 1/500 of the size. ``--scale 0.001`` makes a thousandth
(the tests run it so).

Rows are written by ``INSERT … SELECT generate_series`` inside PostgreSQL, not through
the ORM: a million clicks in a minute or two. They are rows the app accepts (valid
statuses, one tenant each, referral codes unique per tenant) and a ledger that passes
the ledger check: every reward has exactly one accrual, decided rewards one approval or
rejection, so the pending money matches each status. A tenant that exists already is
refused (choose another ``--tenant-slug`` or drop the database): the command never
touches existing rows.

Everyone signs in with the password ``bench-password`` (the owner is
``owner@<slug>.bench.test``, partners ``p00001@<slug>.bench.test`` …).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from prm.models import Membership, Role, Tenant, User
from prm.tenancy import tenant_scope
from programs.models import Program

PASSWORD = "bench-password"  # noqa: S105 - benchmark data, documented above
DAYS = 90
SMALL_TENANTS = 50
SMALL_SHARE = 1 / 500  # a small tenant is the big one at this scale
PROGRAMS = ["Main", "Pro plan", "Enterprise", "Marketplace", "Newsletter"]


@dataclass(frozen=True)
class Size:
    """How many rows of each kind one tenant gets."""

    partners: int
    clicks: int
    leads: int
    conversions: int
    rewards_decided_every: int = 3  # 2 of every 3 rewards are decided (approved/rejected)

    @classmethod
    def at(cls, scale: float) -> Size:
        def n(full: int) -> int:
            return max(1, round(full * scale))

        return cls(partners=n(10_000), clicks=n(1_000_000), leads=n(100_000), conversions=n(30_000))


class Command(BaseCommand):
    help = "Build a large benchmark tenant and 50 small ones with bulk SQL (PostgreSQL only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", type=float, default=1.0, help="1 = the full size")
        parser.add_argument("--tenant-slug", default="big", help="slug of the large tenant")
        parser.add_argument(
            "--small-tenants",
            type=int,
            default=None,
            help=f"how many small tenants (default {SMALL_TENANTS}, scaled down below 1)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("prm_bigdata needs PostgreSQL (set DATABASE_URL).")
        scale: float = options["scale"]
        if not 0 < scale <= 10:
            raise CommandError("--scale must be above 0 and at most 10.")
        slug: str = options["tenant_slug"]
        smalls = options["small_tenants"]
        if smalls is None:
            smalls = SMALL_TENANTS if scale >= 1 else max(1, round(SMALL_TENANTS * scale))
        plan = [(slug, Size.at(scale), len(PROGRAMS))]
        plan += [(f"{slug}-small-{i:02d}", Size.at(scale * SMALL_SHARE), 2) for i in range(smalls)]
        slugs = [s for s, _, _ in plan]
        taken = sorted(Tenant.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        if taken:
            raise CommandError(
                f"Tenant(s) {', '.join(taken)} exist already: prm_bigdata only builds new "
                "tenants. Choose another --tenant-slug or start from an empty database."
            )
        password = make_password(PASSWORD)
        started = time.monotonic()
        for tenant_slug, size, programs in plan:
            t0 = time.monotonic()
            build_tenant(tenant_slug, size, programs, password)
            if tenant_slug == slug or options["verbosity"] > 1:
                self.stdout.write(f"{tenant_slug}: {size} in {time.monotonic() - t0:.1f} s")
        if not connection.in_atomic_block:  # VACUUM cannot run in a transaction (tests)
            with connection.cursor() as cursor:
                for table in TABLES:
                    cursor.execute(f"VACUUM ANALYZE {table}")  # index-only scans need the map
        self.stdout.write(
            self.style.SUCCESS(
                f"Built {len(plan)} tenants in {time.monotonic() - started:.0f} s; "
                f"password {PASSWORD!r}, owner owner@{slug}.bench.test"
            )
        )


TABLES = [
    "prm_user",
    "partners_partnerprofile",
    "programs_enrollment",
    "programs_click",
    "programs_lead",
    "programs_conversion",
    "rewards_reward",
    "rewards_ledgerentry",
]


@transaction.atomic
def build_tenant(slug: str, size: Size, program_count: int, password: str) -> Tenant:
    tenant = Tenant.objects.create(name=f"Bench {slug}", slug=slug, default_currency="USD")
    with tenant_scope(tenant):
        owner = User.objects.create(email=f"owner@{slug}.bench.test", password=password)
        Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
        for name in PROGRAMS[:program_count]:
            Program.objects.create(
                tenant=tenant,
                name=name,
                status=Program.Status.ACTIVE,
                currency="USD",
                landing_urls=f"https://{slug}.example.com/",
            )
    params = {
        "tenant": str(tenant.pk),
        "slug": slug,
        "password": password,
        "partners": size.partners,
        "clicks": size.clicks,
        "leads": size.leads,
        "conversions": size.conversions,
        "days": DAYS,
        "decided_every": size.rewards_decided_every,
    }
    with connection.cursor() as cursor:
        # The inserts name only the columns they fill: every other NOT NULL column takes
        # its model field's default for the build (a field added later cannot break it).
        defaults = _column_defaults()
        for table, column, value in defaults:
            cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET DEFAULT %s', [value])
        for statement in SQL:
            cursor.execute(statement, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER refuses pending FK checks
        for table, column, _value in defaults:
            cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" DROP DEFAULT')
        # ON COMMIT DROP does not fire when called inside an outer transaction (tests).
        cursor.execute(
            "DROP TABLE IF EXISTS bd_program, bd_partner, bd_enrollment, bd_lead, "
            "bd_conversion, bd_reward"
        )
    return tenant


def _column_defaults() -> list[tuple[str, str, Any]]:
    """(table, column, value) for each NOT NULL column of the bulk-filled tables whose
    model field has a default (a text field's is the empty string)."""
    from django.apps import apps

    out = []
    for model in apps.get_models():
        table = model._meta.db_table
        if table not in TABLES:
            continue
        for field in model._meta.concrete_fields:
            if field.null or field.primary_key:
                continue
            if not (field.has_default() or field.empty_strings_allowed):
                continue  # no default to give: the inserts must name it
            # get_default() is the field's default, or "" for a text field without one.
            value = field.get_db_prep_save(field.get_default(), connection)
            out.append((table, field.column, value))
    return out


# Numbered scratch tables (n = 1..N) tie generated rows to each other; dropped on commit.
SQL = [
    # Programs, numbered: program 1 ("Main") has every partner.
    """
    CREATE TEMP TABLE bd_program ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY created_at, name) AS n, id
    FROM programs_program WHERE tenant_id = %(tenant)s
    """,
    # Users and partner profiles (partner 1 is the busy one).
    """
    CREATE TEMP TABLE bd_partner ON COMMIT DROP AS
    SELECT n, gen_random_uuid() AS id, NULL::bigint AS user_id,
           now() - make_interval(secs => (n::bigint * 7919 %% (%(days)s * 86400))) AS created_at
    FROM generate_series(1, %(partners)s) AS n
    """,
    """
    WITH made AS (
      INSERT INTO prm_user (password, is_superuser, first_name, last_name, is_staff,
                            is_active, date_joined, email)
      SELECT %(password)s, false, 'Partner', lpad(n::text, 5, '0'), false, true, created_at,
             'p' || lpad(n::text, 5, '0') || '@' || %(slug)s || '.bench.test'
      FROM bd_partner
      RETURNING id, email
    )
    UPDATE bd_partner p SET user_id = made.id FROM made
    WHERE made.email = 'p' || lpad(p.n::text, 5, '0') || '@' || %(slug)s || '.bench.test'
    """,
    """
    INSERT INTO account_emailaddress (email, verified, "primary", user_id)
    SELECT 'p' || lpad(n::text, 5, '0') || '@' || %(slug)s || '.bench.test', true, true, user_id
    FROM bd_partner
    """,
    """
    INSERT INTO partners_partnerprofile (id, status, display_name, company, created_at,
                                         tenant_id, user_id, recruit_code)
    SELECT id, CASE WHEN n %% 50 = 0 THEN 'pending' WHEN n %% 97 = 0 THEN 'blocked'
                    ELSE 'active' END,
           initcap(substr(md5('name' || n), 1, 7)) || ' ' || lpad(n::text, 5, '0'),
           CASE WHEN n %% 4 = 0 THEN 'Company ' || (n %% 300) ELSE '' END,
           created_at, %(tenant)s, user_id, 'r' || n
    FROM bd_partner
    """,
    # Enrollments: everyone in program 1, every third partner also in each other program.
    """
    CREATE TEMP TABLE bd_enrollment ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY pr.n, p.n) AS n, gen_random_uuid() AS id,
           pr.id AS program_id, p.id AS partner_id, p.n AS partner_n,
           'C' || pr.n || 'P' || p.n AS code, p.created_at + interval '1 hour' AS created_at
    FROM bd_partner p JOIN bd_program pr ON pr.n = 1 OR p.n %% 3 = pr.n %% 3
    """,
    """
    INSERT INTO programs_enrollment (id, status, code, created_at, partner_id, tenant_id,
                                     program_id)
    SELECT id, CASE WHEN partner_n %% 50 = 0 THEN 'pending' ELSE 'active' END, code,
           created_at, partner_id, %(tenant)s, program_id
    FROM bd_enrollment
    """,
    # Clicks: every tenth by partner 1 in program 1 (enrollment 1), the rest spread.
    """
    INSERT INTO programs_click (ingest_id, status, reject_reason, code, visitor_id, sub_id,
        landing_url, referrer, source, browser, os, device, ip, created_at, partner_id,
        tenant_id, enrollment_id, program_id)
    SELECT 'bd:' || %(slug)s || ':' || c.n,
           CASE WHEN c.n %% 50 = 7 THEN 'rejected' ELSE 'accepted' END,
           CASE WHEN c.n %% 50 = 7 THEN 'program_paused' ELSE '' END,
           e.code, 'v' || (c.n %% 400000),
           CASE WHEN c.n %% 5 = 0 THEN 'sub' || c.n %% 7 ELSE '' END,
           'https://' || %(slug)s || '.example.com/', '', 'link', 'Chrome', 'Linux', 'Desktop',
           '203.0.113.0',
           now() - make_interval(secs => (c.n::bigint * 104729 %% (%(days)s * 86400))),
           e.partner_id, %(tenant)s, e.id, e.program_id
    FROM (SELECT n, CASE WHEN n %% 10 = 0 THEN 1
                    ELSE 1 + (n::bigint * 2654435761 %% (SELECT count(*) FROM bd_enrollment))
                    END AS e_n
          FROM generate_series(1, %(clicks)s) AS n) c
    JOIN bd_enrollment e ON e.n = c.e_n
    """,
    # Leads: nine in ten credited to a partner, the rest to nobody.
    """
    CREATE TEMP TABLE bd_lead ON COMMIT DROP AS
    SELECT l.n, gen_random_uuid() AS id, e.program_id,
           CASE WHEN l.n %% 10 = 5 THEN NULL ELSE e.partner_id END AS partner_id,
           now() - make_interval(secs => (l.n::bigint * 15485863 %% (%(days)s * 86400)))
             AS created_at
    FROM (SELECT n, 1 + (n::bigint * 40503 %% (SELECT count(*) FROM bd_enrollment)) AS e_n
          FROM generate_series(1, %(leads)s) AS n) l
    JOIN bd_enrollment e ON e.n = l.e_n
    """,
    """
    INSERT INTO programs_lead (id, status, source, name, email, phone, company, external_id,
        visitor_id, attribution, created_at, updated_at, partner_id, tenant_id, program_id,
        device, email_key, ip, net, user_agent)
    SELECT id, (ARRAY['new','contacted','qualified','converted','rejected'])[1 + n %% 5],
           'snippet',
           initcap(substr(md5('lead' || n), 1, 6)) || ' ' || initcap(substr(md5('x' || n), 1, 8)),
           'lead' || n || '@customer.test', '',
           CASE WHEN n %% 3 = 0 THEN 'Firm ' || n %% 1000 ELSE '' END,
           '', 'v' || n, '{}'::jsonb, created_at, created_at, partner_id, %(tenant)s,
           program_id, '', 'lead' || n || '@customer.test', '', '', ''
    FROM bd_lead
    """,
    # Conversions: from credited leads, a day after the lead (never in the future).
    """
    CREATE TEMP TABLE bd_conversion ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY l.n) AS n, gen_random_uuid() AS id, l.id AS lead_id,
           l.n AS lead_n, l.program_id, l.partner_id,
           least(l.created_at + interval '1 day', now() - interval '1 minute') AS occurred_at,
           (10 + (l.n * 7 %% 490))::numeric(14, 2) AS amount
    FROM bd_lead l WHERE l.partner_id IS NOT NULL
    ORDER BY l.n LIMIT %(conversions)s
    """,
    """
    INSERT INTO programs_conversion (id, external_id, kind, status, amount, currency,
        refunded_amount, customer_email, customer_external_id, visitor_id, promo_code,
        attribution, occurred_at, created_at, partner_id, tenant_id, lead_id, program_id,
        device, email_key, ip, net, user_agent)
    SELECT id, 'order-' || n, 'sale', 'attributed', amount, 'USD', 0,
           'lead' || lead_n || '@customer.test', '', 'v' || lead_n, '', '{}'::jsonb,
           occurred_at, occurred_at, partner_id, %(tenant)s, lead_id, program_id,
           '', 'lead' || lead_n || '@customer.test', '', '', ''
    FROM bd_conversion
    """,
    # Rewards: 10% of each conversion, a fixed 5.00 per credited lead; 2 in 3 decided.
    """
    CREATE TEMP TABLE bd_reward ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY created_at, key) AS n, * FROM (
      SELECT gen_random_uuid() AS id, 'conversion:' || id || ':1' AS key, 'conversion' AS kind,
             partner_id, program_id, id AS conversion_id, NULL::uuid AS lead_id,
             greatest(round(amount / 10, 2), 0.01) AS amount, occurred_at AS created_at
      FROM bd_conversion
      UNION ALL
      SELECT gen_random_uuid(), 'lead:' || id, 'lead', partner_id, program_id, NULL, id,
             5.00, created_at
      FROM bd_lead WHERE partner_id IS NOT NULL
    ) r
    """,
    "ALTER TABLE bd_reward ADD COLUMN status text",
    """
    UPDATE bd_reward SET status = CASE
      WHEN n %% %(decided_every)s = 0 THEN 'pending'
      WHEN n %% 10 = 1 THEN 'rejected' ELSE 'approved' END
    """,
    """
    INSERT INTO rewards_reward (id, key, kind, level, amount, currency, status, flagged,
        reason, rule, available_at, decided_at, created_at, conversion_id, lead_id,
        partner_id, program_id, tenant_id)
    SELECT id, key, kind, 1, amount, 'USD', status, false,
           CASE WHEN status = 'rejected' THEN 'Not a valid sale' ELSE '' END,
           '{"source": "prm_bigdata"}'::jsonb, created_at + interval '30 days',
           CASE WHEN status = 'pending' THEN NULL
                ELSE least(created_at + interval '2 days', now()) END,
           created_at, conversion_id, lead_id, partner_id, program_id, %(tenant)s
    FROM bd_reward
    """,
    # The ledger: one accrual per reward, one approval or rejection per decided reward.
    """
    INSERT INTO rewards_ledgerentry (key, currency, kind, pending, available, processing,
        paid, rule, fx, memo, created_at, partner_id, tenant_id, reward_id)
    SELECT 'accrual:' || id, 'USD', 'accrual', amount, 0, 0, 0, '{}'::jsonb, '{}'::jsonb,
           '', created_at, partner_id, %(tenant)s, id
    FROM bd_reward ORDER BY n
    """,
    """
    INSERT INTO rewards_ledgerentry (key, currency, kind, pending, available, processing,
        paid, rule, fx, memo, created_at, partner_id, tenant_id, reward_id)
    SELECT status || ':' || id, 'USD',
           CASE WHEN status = 'approved' THEN 'approval' ELSE 'rejection' END,
           -amount, CASE WHEN status = 'approved' THEN amount ELSE 0 END, 0, 0,
           '{}'::jsonb, '{}'::jsonb, '', least(created_at + interval '2 days', now()), partner_id,
           %(tenant)s, id
    FROM bd_reward WHERE status <> 'pending' ORDER BY n
    """,
]
