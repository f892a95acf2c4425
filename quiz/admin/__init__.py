"""The researcher's workbench: upload datasets, train, watch progress, generate, build studies.

Django's admin autodiscovery imports this package; importing each audience's module registers
its models.
"""

from django.contrib import admin

from quiz.admin import (  # noqa: F401 (registers)
    datasets,
    generators,
    images,
    participants,
    runs,
    studies,
)

admin.site.site_header = "Real or Synthetic? — staff"
admin.site.site_title = "Real or Synthetic? staff"
