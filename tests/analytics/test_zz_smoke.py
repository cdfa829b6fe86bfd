import pytest
from tests.analytics.world import build

@pytest.mark.django_db
def test_smoke(acme, owner, manager, client_for, settings):
    settings.PRM_JOBS_INLINE = True
    build(acme, owner)
    for user in (owner, manager):
        for url in ["/manage/", "/manage/reports/partners/", "/manage/reports/programs/", "/manage/reports/channels/?by=utm_source", "/manage/reports/quality/", "/manage/reports/periods/?by=week&sort=-clicks"]:
            r = client_for(user).get(url)
            assert r.status_code == 200, (url, r.status_code)
    open("/tmp/dash.html","w").write(client_for(owner).get("/manage/").content.decode())
    open("/tmp/rep.html","w").write(client_for(owner).get("/manage/reports/partners/").content.decode())
