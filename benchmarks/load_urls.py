"""The product's URLs plus /bench/bare/: the load benchmark's ceiling, a bare Django view.

Two bytes under the site's whole middleware stack (sessions, CSRF, CSP, axes, WhiteNoise, ...),
with no query, no session and no template: what this server and Django cost before any page does
any work. It is not part of the product's URLs.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from webapp.urls import urlpatterns as product_urlpatterns


@never_cache
@require_GET
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("bench/bare/", bare), *product_urlpatterns]
