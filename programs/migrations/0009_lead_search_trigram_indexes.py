"""The lead list's text search (name, e-mail, phone or company contains …) by trigram
indexes instead of a scan of every lead: Django's ``icontains`` is
``UPPER(col::text) LIKE UPPER('%…%')``, so the indexes are on that expression.

PostgreSQL only (pg_trgm, a trusted extension the database owner may create); the
embedded SQLite demo keeps scanning, which is fine at its size.
"""

from django.db import migrations

COLUMNS = ("name", "email", "phone", "company")

FORWARD = "CREATE EXTENSION IF NOT EXISTS pg_trgm;\n" + "\n".join(
    f"CREATE INDEX IF NOT EXISTS lead_search_{c}_trgm ON programs_lead "
    f"USING gin (UPPER({c}::text) gin_trgm_ops);"
    for c in COLUMNS
)
BACKWARD = "\n".join(f"DROP INDEX IF EXISTS lead_search_{c}_trgm;" for c in COLUMNS)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("programs", "0008_list_and_count_indexes")]

    operations = [migrations.RunPython(forward, backward)]
