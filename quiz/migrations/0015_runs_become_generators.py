from django.db import migrations


def runs_become_generators(apps, schema_editor):
    """Each run that made synthetic images becomes their generator."""
    Generator = apps.get_model("quiz", "Generator")
    Image = apps.get_model("quiz", "Image")
    TrainingRun = apps.get_model("quiz", "TrainingRun")
    run_ids = Image.objects.filter(kind="synthetic").values("training_run_id").distinct()
    for run in TrainingRun.objects.filter(pk__in=run_ids).order_by("pk"):
        name = run.name
        if Generator.objects.filter(name=name).exists():
            name = f"{run.name} (run #{run.pk})"
        generator = Generator.objects.create(
            name=name, training_run=run, trained_on_id=run.dataset_id
        )
        Image.objects.filter(kind="synthetic", training_run=run).update(generator=generator)


class Migration(migrations.Migration):
    # Apart from the schema changes around it: on PostgreSQL, rows updated with a deferred
    # foreign key may not be followed by an ALTER TABLE in the same transaction.
    dependencies = [("quiz", "0014_generators")]

    operations = [migrations.RunPython(runs_become_generators, migrations.RunPython.noop)]
