from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("quiz", "0015_runs_become_generators")]

    operations = [
        migrations.AddConstraint(
            model_name="image",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("dataset__isnull", False), ("kind", "real")),
                    models.Q(("generator__isnull", False), ("kind", "synthetic")),
                    _connector="OR",
                ),
                name="image_has_provenance",
            ),
        ),
    ]
