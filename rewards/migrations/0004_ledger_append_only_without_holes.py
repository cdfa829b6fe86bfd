from django.db import migrations

# Closes two holes of 0002: TRUNCATE (a row trigger never sees it) and the purge switch
# any session could set (`SET LOCAL prm.ledger_purge = 'on'`).
#
# Now rows may be deleted (and the table truncated) only by a member of the role
# prm_ledger_admin, which the application's role is not: in practice through the
# SECURITY DEFINER function rewards_ledger_purge_tenant(), owned by that role, when an
# operator deletes a whole tenant. Updates are refused to everyone. Superusers count as
# members of every role (they can drop the trigger anyway); the test suite, which runs
# as one, may therefore still empty its tables between tests.
FORWARD = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'prm_ledger_admin') THEN
    CREATE ROLE prm_ledger_admin NOLOGIN;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'cannot create role prm_ledger_admin: ledger rows can never be deleted';
END
$$;

CREATE OR REPLACE FUNCTION rewards_ledger_may_delete() RETURNS boolean AS $$
  SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'prm_ledger_admin')
     AND pg_has_role(current_user, 'prm_ledger_admin', 'MEMBER');
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION rewards_ledger_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') AND rewards_ledger_may_delete() THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the ledger is append-only: %% refused', TG_OP;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS rewards_ledger_no_truncate ON rewards_ledgerentry;
CREATE TRIGGER rewards_ledger_no_truncate
  BEFORE TRUNCATE ON rewards_ledgerentry
  FOR EACH STATEMENT EXECUTE FUNCTION rewards_ledger_append_only();

CREATE OR REPLACE FUNCTION rewards_ledger_purge_tenant(target uuid) RETURNS bigint AS $$
DECLARE
  removed bigint;
BEGIN
  DELETE FROM rewards_ledgerentry WHERE tenant_id = target;
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp;

-- Not for every session: an operator grants EXECUTE (or prm_ledger_admin) to a role.
REVOKE ALL ON FUNCTION rewards_ledger_purge_tenant(uuid) FROM PUBLIC;

DO $$
BEGIN
  GRANT SELECT, DELETE ON rewards_ledgerentry TO prm_ledger_admin;
  ALTER FUNCTION rewards_ledger_purge_tenant(uuid) OWNER TO prm_ledger_admin;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
  RAISE NOTICE 'rewards_ledger_purge_tenant stays with the migrating role';
END
$$;
"""
BACKWARD = """
DROP TRIGGER IF EXISTS rewards_ledger_no_truncate ON rewards_ledgerentry;
DROP FUNCTION IF EXISTS rewards_ledger_purge_tenant(uuid);
CREATE OR REPLACE FUNCTION rewards_ledger_append_only() RETURNS trigger AS $$
BEGIN
  IF current_setting('prm.ledger_purge', true) = 'on' AND TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the ledger is append-only: %% refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP FUNCTION IF EXISTS rewards_ledger_may_delete();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0003_reward_rewards_rew_tenant__622801_idx")]

    operations = [migrations.RunPython(forward, backward)]
