"""Inbound events from Salesforce.

We poll Salesforce (``Connector.changes_since``), so no event is needed. An org admin
may still point an Outbound Message (a Flow / workflow action, SOAP) at our event URL
to make changes arrive sooner: it is accepted when its ``OrganizationId`` is the
connected org's, and only the Lead ids are taken from it (an event is a hint; the
engine re-reads the records). Salesforce waits for a SOAP ``<Ack>true</Ack>``
(``ACK``) and retries for 24 h until it gets one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405  (DTDs are refused before parsing)

from integrations.crm.base import CrmAuthError

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OM_NS = "http://soap.sforce.com/2005/09/outbound"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OM_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)
MAX_BODY = 2_000_000  # 100 notifications of a Lead are far below this


def same_org(a: str, b: str) -> bool:
    """Org ids compare on their first 15 characters (18-character ids add a checksum)."""
    return bool(a) and bool(b) and a[:15] == b[:15]


def parse_outbound_message(body: bytes, content_type: str, *, org_id: str) -> list[str]:
    """Lead ids of a genuine Outbound Message from the connected org; CrmAuthError for
    anything else."""
    if not body or len(body) > MAX_BODY or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise CrmAuthError("not a Salesforce outbound message")
    try:
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise CrmAuthError("not a Salesforce outbound message") from exc
    notifications = root.find(f".//{{{OM_NS}}}notifications")
    if notifications is None:
        raise CrmAuthError("not a Salesforce outbound message")
    sender = (notifications.findtext(f"{{{OM_NS}}}OrganizationId") or "").strip()
    if not same_org(sender, org_id):
        raise CrmAuthError("outbound message from another Salesforce org")
    ids: list[str] = []
    for item in notifications.findall(f"{{{OM_NS}}}Notification"):
        sobject = item.find(f"{{{OM_NS}}}sObject")
        if sobject is None:
            continue
        lead_id = (sobject.findtext("{urn:sobject.enterprise.soap.sforce.com}Id") or "").strip()
        if lead_id.startswith("00Q"):
            ids.append(lead_id)
    return list(dict.fromkeys(ids))


def outbound_message(org_id: str, lead_ids: list[str]) -> bytes:
    """The SOAP body Salesforce posts (for tests and the fake)."""
    items = "".join(
        f"<Notification><Id>04l{n:015d}</Id>"
        f'<sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>{lead_id}</sf:Id></sObject></Notification>"
        for n, lead_id in enumerate(lead_ids)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="{OM_NS}"><OrganizationId>{org_id}</OrganizationId>'
        f'<ActionId>04k000000000001</ActionId><SessionId xsi:nil="true"/>'
        f"{items}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()
