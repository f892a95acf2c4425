"""TrainingRun.family names a family registered in ganengine.families, without choices here.

The admin's training form offers and checks the registered families, so adding a family to
ganengine needs no migration; the column is widened for longer family names.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("quiz", "0008_cache_table")]

    operations = [
        migrations.AlterField(
            model_name="trainingrun",
            name="family",
            field=models.CharField(default="unconditional", max_length=64),
        ),
    ]
