from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("quiz.urls")),
]

# A 400 names its reason; database pool exhaustion answers 503 with Retry-After; any other
# unhandled error is a 500 (webapp/errors.py).
handler400 = "webapp.errors.bad_request"
handler500 = "webapp.errors.server_error"
