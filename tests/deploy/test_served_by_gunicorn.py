"""With DEBUG=0 the site runs under gunicorn behind a TLS proxy: collected static files are served,
plain HTTP is sent to https, and pages carry HSTS and the content security policy."""

from tests.deploy.production import BASE_DIR, VIA_TLS_PROXY, get, gunicorn, set_up

STATIC = {
    "css/site.css": "text/css",
    "js/quiz.js": "text/javascript",
    "js/has-js.js": "text/javascript",
}


def test_the_quiz_css_and_js_are_served_with_debug_off(prod_env, tmp_path):
    set_up(prod_env)
    with gunicorn(prod_env, tmp_path / "gunicorn.log") as url:
        for name, content_type in STATIC.items():
            status, headers, body = get(f"{url}/static/{name}", VIA_TLS_PROXY)
            assert status == 200, name
            assert headers["Content-Type"].split(";")[0] == content_type
            assert body == (BASE_DIR / "static" / name).read_bytes()


def test_a_page_is_sent_to_https_and_served_with_hsts_and_the_csp(prod_env, tmp_path):
    set_up(prod_env)
    with gunicorn(prod_env, tmp_path / "gunicorn.log") as url:
        status, headers, _ = get(f"{url}/")
        assert status == 301
        assert headers["Location"] == f"https://{url.removeprefix('http://')}/"

        status, headers, body = get(f"{url}/", VIA_TLS_PROXY)
        assert status == 200
        assert "Real or Synthetic?" in body.decode()
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in headers["Content-Security-Policy"].split(";")
        )
        assert policy["default-src"] == "'self'"
        assert policy["script-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
