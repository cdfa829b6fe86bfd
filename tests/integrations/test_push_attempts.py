"""An attempt is charged only to the records a failing request carried: a chunk that
the connector splits into several requests and that fails at its first request leaves
the records of the requests never sent with their attempt count, so none of them can go
dead without ever having been tried. Against each fake CRM over real HTTP."""

from __future__ import annotations

import pytest

from integrations.crm import engine
from integrations.models import CrmOutbox
from tests.integrations.helpers import bulk_leads, live

pytestmark = pytest.mark.django_db

PER_REQUEST = {"amocrm": 50, "bitrix24": 50, "salesforce": 200}  # creates per request
FIRST_WRITE = {  # what the first create request of a chunk carries
    "amocrm": "/api/v4/leads/complex",
    "bitrix24": "crm.lead.add",
    "salesforce": "composite/sobjects",
}


def test_records_of_requests_never_sent_keep_their_attempt_count(
    crm, fake, program, alice, run_crm_jobs, django_capture_on_commit_callbacks, settings
):
    first = PER_REQUEST[fake.provider]
    total = first + 10  # a chunk of two create requests
    bulk_leads(program, alice, total, "split")
    fake.inject("500", times=1, path=FIRST_WRITE[fake.provider])
    with django_capture_on_commit_callbacks(execute=True):
        engine.sync_all(crm)
    run_crm_jobs()

    rows = CrmOutbox.objects.filter(connection=crm)
    assert rows.count() == total
    assert set(rows.values_list("state", flat=True)) == {CrmOutbox.State.DONE}
    # The first request's records: the failure and the success; the second request's:
    # only the success (before, they were charged for the failure too). amoCRM sends
    # both requests at once (pipelined): the one that reached the CRM first failed, and
    # only its records are charged.
    charged = rows.filter(attempts=2).count()
    assert charged == first or (fake.provider == "amocrm" and charged == 10)
    assert rows.filter(attempts=1).count() == total - charged
    pushed = live(fake)
    assert len(pushed) == len({r["email"] for r in pushed}) == total
