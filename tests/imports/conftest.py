import pytest

from imports import services
from imports.models import ImportBatch


@pytest.fixture
def run_import():
    """``run_import(user, kind, content, name=..., **options)``: upload, preview, confirm
    and run a file as the wizard does; returns the batch."""

    def make(user, kind, content, name="file.csv", **options) -> ImportBatch:
        data = content.encode("utf-8") if isinstance(content, str) else content
        batch = services.create_batch(by=user, kind=kind, file_name=name, data=data)
        if options:
            batch = services.save_options(batch=batch, by=user, options=options)
        services.preview(batch=batch, by=user)
        batch.refresh_from_db()
        batch, _ = services.confirm(batch=batch, by=user, token=batch.preview_token)
        return services.run(batch_id=batch.pk)

    return make
