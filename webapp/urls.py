from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("quiz.urls")),
]

# Database pool exhaustion answers 503 with Retry-After; any other unhandled error is a 500.
handler500 = "webapp.errors.server_error"
