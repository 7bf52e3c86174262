# mod_wsgi / uWSGI style: a .wsgi file holding `application`, loaded by path (uwsgi --wsgi-file site.wsgi).
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"from a .wsgi file"]
