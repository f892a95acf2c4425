"""The admin's training-run form lists each preset with its family, resolution and time."""

from ganengine import families
from quiz.admin.runs import TrainingRunForm


def test_the_run_forms_preset_choices_carry_each_presets_label() -> None:
    groups = dict(TrainingRunForm().fields["preset"].choices)
    for family in families.all():
        choices = dict(groups[family.label])
        for name in family.presets():
            label = choices[f"{family.name}:{name}"]
            assert label == f"{name}: {family.config_class.preset_description(name)}"
            assert str(family.preset(name).resolution) + " px" in label
