from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("quiz.urls")),
]

handler400 = "quiz.errors.bad_request"
