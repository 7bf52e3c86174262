def create(greeting, excl=False, repeat=1):
    body = (greeting + ('!' if excl else '')) * repeat

    def app(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [body.encode('latin-1')]
    return app


def broken_factory():
    raise RuntimeError('no database configured')


class Holder:
    # A dotted attribute: factory:Holder.app
    @staticmethod
    def app(environ, start_response):
        start_response('200 OK', [])
        return [b'dotted']


not_an_app = 42
