"""Hello and friends wrapped in wsgiref.validate.validator: any PEP 3333 slip of the server
(environ types, start_response, close()) raises inside the app and shows up as an ERROR frame."""
from wsgiref.validate import validator


def _app(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/post':
        body = environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0))
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('Content-Length', str(len(body)))])
        return [body]
    if path == '/gen':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return (b'chunk%d' % i for i in range(3))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello my friend!']


application = validator(_app)
