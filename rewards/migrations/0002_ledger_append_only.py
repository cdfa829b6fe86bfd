from django.db import migrations

# The ledger is append-only: PostgreSQL refuses UPDATE and DELETE of its rows, unless
# an operator purging a whole tenant sets prm.ledger_purge for the transaction.
FORWARD = """
CREATE OR REPLACE FUNCTION rewards_ledger_append_only() RETURNS trigger AS $$
BEGIN
  IF current_setting('prm.ledger_purge', true) = 'on' AND TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the ledger is append-only: %% refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER rewards_ledger_append_only
  BEFORE UPDATE OR DELETE ON rewards_ledgerentry
  FOR EACH ROW EXECUTE FUNCTION rewards_ledger_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS rewards_ledger_append_only ON rewards_ledgerentry;
DROP FUNCTION IF EXISTS rewards_ledger_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("rewards", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
