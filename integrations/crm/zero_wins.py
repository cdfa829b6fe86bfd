"""A one-time repair per Bitrix24 connection: before converted leads were followed to
their deals, a converted lead was recorded at once as a won sale of 0.00 (no reward),
and the deal's later win was never read. This job re-reads the CRM records of such
conversions once; a record whose deal is now won with an amount gives the conversion
that amount and its rewards (inbound._record_win, conversion_amount_from_zero)."""

from __future__ import annotations

from decimal import Decimal

from integrations.models import CrmConnection, CrmRecordLink
from programs.models import Conversion

RECHECK_JOB = "integrations.crm.zero_wins.recheck"
FLAG = "zero_wins_rechecked"  # in the connection's settings once done
CHUNK = 200  # records read per pull


def due(crm: CrmConnection) -> bool:
    return crm.provider == "bitrix24" and not crm.settings.get(FLAG)


def recheck(connection_id: str) -> int:
    """Job: re-read the records of this connection's 0.00 CRM conversions; returns how
    many were read."""
    from integrations.crm.inbound import pull_records

    crm = CrmConnection.objects.filter(pk=connection_id).first()
    if crm is None or not crm.is_active or not due(crm):
        return 0
    prefix = f"crm-{crm.provider}-"
    zero = Decimal("0")
    orders = Conversion.objects.filter(
        external_id__startswith=prefix, amount=zero, refunded_amount=zero
    ).values_list("external_id", flat=True)
    crm_ids = sorted(
        CrmRecordLink.objects.filter(
            connection=crm, crm_id__in=[o.removeprefix(prefix) for o in orders]
        ).values_list("crm_id", flat=True)
    )
    for start in range(0, len(crm_ids), CHUNK):
        pull_records(str(crm.pk), crm_ids[start : start + CHUNK])
    crm.refresh_from_db(fields=["settings"])
    crm.settings[FLAG] = True
    crm.save(update_fields=["settings"])
    return len(crm_ids)
