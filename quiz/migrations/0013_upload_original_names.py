"""IngestJob.upload_names (storage names) becomes `uploads`: the generated storage name of each
uploaded file with the name it was uploaded under, which the ingest report shows."""

from django.db import migrations


def names_to_uploads(apps, schema_editor) -> None:
    IngestJob = apps.get_model("quiz", "IngestJob")
    for job in IngestJob.objects.exclude(uploads=[]):
        # Jobs stored before this migration kept the (sanitised) upload name as the file's name.
        job.uploads = [{"stored": name, "name": name.rsplit("/", 1)[-1]} for name in job.uploads]
        job.save(update_fields=["uploads"])


def uploads_to_names(apps, schema_editor) -> None:
    IngestJob = apps.get_model("quiz", "IngestJob")
    for job in IngestJob.objects.exclude(uploads=[]):
        job.uploads = [upload["stored"] for upload in job.uploads]
        job.save(update_fields=["uploads"])


class Migration(migrations.Migration):
    dependencies = [
        ("quiz", "0012_oracle_free_feedback"),
    ]

    operations = [
        migrations.RenameField(model_name="ingestjob", old_name="upload_names", new_name="uploads"),
        migrations.RunPython(names_to_uploads, uploads_to_names),
    ]
