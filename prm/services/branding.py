"""Writes to a tenant's branding: one service, audited, files through Django's storage."""

from __future__ import annotations

import logging
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpRequest

from prm.audit import audit_record, snapshot
from prm.images import CleanImage
from prm.middleware import forget_tenant_hosts
from prm.models import Branding, Tenant, User

log = logging.getLogger(__name__)

FIELDS = [
    "primary_color",
    "accent_color",
    "font",
    "cabinet_title",
    "support_email",
    "email_sender_name",
    "email_reply_to",
]
AUDITED = [*FIELDS, "logo", "favicon"]


def branding_update(
    *,
    tenant: Tenant,
    actor: User,
    changes: dict[str, Any],
    images: dict[str, CleanImage],
    remove: set[str],
    request: HttpRequest | None = None,
) -> Branding:
    """Saves ``changes`` (FIELDS), stores ``images`` (``logo``/``favicon``, already
    checked by prm.images) and clears the images named in ``remove``.

    Replaced files are deleted from storage after commit; a failed transaction deletes
    the files it had written, so storage never keeps orphans of a rolled-back save.
    """
    written: list[str] = []
    with transaction.atomic():
        branding, _ = Branding.objects.select_for_update().get_or_create(tenant=tenant)
        before = snapshot(branding, AUDITED)
        stale: list[str] = []
        for field, value in changes.items():
            if field not in FIELDS:
                raise ValueError(f"not a branding field: {field}")
            setattr(branding, field, value)
        for name in ("logo", "favicon"):
            current = getattr(branding, name)
            if name in images or name in remove:
                if current:
                    stale.append(current.name)
                setattr(branding, name, "")
                setattr(branding, f"{name}_type", "")
            if name in images:
                image = images[name]
                getattr(branding, name).save(
                    f"{name}.{image.extension}", ContentFile(image.content), save=False
                )
                written.append(getattr(branding, name).name)
                setattr(branding, f"{name}_type", image.content_type)
        branding.version += 1
        try:
            branding.save()
            after = snapshot(branding, AUDITED)
            diff = [k for k in AUDITED if before[k] != after[k]]
            if diff:
                audit_record(
                    tenant=tenant,
                    actor=actor,
                    action="branding.update",
                    obj=branding,
                    before={k: before[k] for k in diff},
                    after={k: after[k] for k in diff},
                    request=request,
                )
        except BaseException:
            _delete(written)
            raise
        storage = branding.logo.storage
        transaction.on_commit(lambda: _delete(stale, storage))
        # The host lookup caches the tenant together with its branding.
        transaction.on_commit(lambda: forget_tenant_hosts(tenant))
    return branding


def _delete(names: list[str], storage: Any = None) -> None:
    if storage is None:
        storage = Branding._meta.get_field("logo").storage  # type: ignore[union-attr]
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # a leftover file is harmless; a failed save over it is not
            log.warning("could not delete branding file %s", name, exc_info=True)
