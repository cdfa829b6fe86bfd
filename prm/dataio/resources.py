"""The base of every list's resource (django-import-export): rows of the active
tenant only, exported as native values (the writers format them), and the column
checks an import makes before reading a single row."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from import_export import resources


class TenantResource(resources.ModelResource):
    """A resource over a tenant-owned model. Export reads the queryset it is given (a
    list's filtered rows, always from the scoped manager); an import resource says which
    columns it requires and which it reads, and ignores the export-only ones."""

    # Columns an import must have / may have besides the export's own.
    required_columns: ClassVar[tuple[str, ...]] = ()
    import_only_columns: ClassVar[tuple[str, ...]] = ()

    on_progress: Any = None  # called with the rows done, every few hundred rows
    lookup_cache: dict[Any, Any] | None = None  # one run's row lookups (see widgets)
    _rows_done = 0

    def import_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        # What the row finds, to say in the preview what an update changes.
        self._before = (
            None if instance._state.adding else {f: f.get_value(instance) for f in self._compared()}
        )
        super().import_instance(instance, row, **kwargs)

    def _compared(self) -> list[Any]:
        return [f for f in self.get_import_fields() if not f.readonly and f.attribute]

    def skip_row(
        self, instance: Any, original: Any, row: Any, import_validation_errors: Any = None
    ) -> bool:
        # A new row is never "unchanged", even when the file gives only its key.
        if instance._state.adding:
            return False
        return super().skip_row(instance, original, row, import_validation_errors)

    def save_instance(self, instance: Any, is_create: bool, row: Any, **kwargs: Any) -> None:
        before = getattr(self, "_before", None)
        self._changes = (
            []
            if is_create or before is None
            else [
                f"{f.column_name}: {before[f] or '—'} → {f.get_value(instance) or '—'}"
                for f in self._compared()
                if f in before and f.get_value(instance) != before[f]
            ]
        )
        super().save_instance(instance, is_create, row, **kwargs)

    def after_import_row(self, row: Any, row_result: Any, **kwargs: Any) -> None:
        row_result.changes = getattr(self, "_changes", [])[:6]
        self._changes = []
        self._rows_done += 1
        if self.on_progress is not None and self._rows_done % 200 == 0:
            self.on_progress(self._rows_done)

    def get_queryset(self) -> QuerySet[Any]:
        return self._meta.model.objects.all()  # the scoped manager: this tenant's rows

    def export_row(self, obj: Any) -> list[Any]:
        # The field list once per export, not once per row (it is rebuilt on each call).
        fields = self.__dict__.get("_export_fields")
        if fields is None:
            fields = self._export_fields = self.get_export_fields()
        return [self.export_field(field, obj, force_native_type=True) for field in fields]

    def header(self) -> list[str]:
        return self.get_export_headers()

    @classmethod
    def known_columns(cls) -> set[str]:
        names = {field.column_name for field in cls().get_export_fields()}
        return names | set(cls.import_only_columns)
