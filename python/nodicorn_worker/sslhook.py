"""gunicorn's ssl_context hook, for a server whose TLS is Node's.

Node terminates TLS, so the SSLContext the hook returns cannot be used as it is. While the hook
runs, the methods of ssl.SSLContext that configure a server context are watched (they still run,
so a bad path raises as it would under gunicorn); afterwards, what was done to the returned
context is read back and translated into Node's TLS options:

  load_cert_chain            cert, key, passphrase
  load_verify_locations      ca (the CA certificates the context holds: cafile or cadata)
  verify_mode                --cert-reqs 0/1/2
  minimum/maximum_version    minVersion / maxVersion
  set_ciphers                ciphers
  set_ecdh_curve             ecdhCurve
  load_dh_params             dhparam

Whatever has no Node equivalent (capath, an SNI callback, keylog_filename, another ALPN list than
--http-protocols gives, a context that never loaded a certificate) raises TranslateError: one line.
"""
import ssl
from typing import Any, Callable, Dict, List, Optional

WATCHED = ('load_cert_chain', 'load_verify_locations', 'set_ciphers', 'set_alpn_protocols',
           'set_ecdh_curve', 'load_dh_params')

_VERSIONS = {
    ssl.TLSVersion.TLSv1: 'TLSv1', ssl.TLSVersion.TLSv1_1: 'TLSv1.1',
    ssl.TLSVersion.TLSv1_2: 'TLSv1.2', ssl.TLSVersion.TLSv1_3: 'TLSv1.3',
}


class TranslateError(Exception):
    pass


def _alpn(http_protocols: List[str]) -> List[str]:
    return ['h2', 'http/1.1'] if 'h2' in http_protocols else []


def call_ssl_context(hook: Callable, cfg: Any, paths: Dict[str, Any]) -> Dict[str, Any]:
    """Runs ssl_context(cfg, factory) and returns Node's options for the context it returns.
    `paths`: certfile, keyfile, ca_certs (absolute), cert_reqs, ciphers, http_protocols."""
    calls: Dict[int, Dict[str, tuple]] = {}
    originals = {name: getattr(ssl.SSLContext, name) for name in WATCHED}
    own = {name for name in WATCHED if name in ssl.SSLContext.__dict__}

    def watcher(name: str, original: Callable) -> Callable:
        def watched(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            calls.setdefault(id(self), {}).setdefault(name, [])
            calls[id(self)][name].append((args, kwargs))
            return result
        return watched

    def default_ssl_context_factory() -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=paths.get('ca_certs'))
        context.load_cert_chain(certfile=paths['certfile'], keyfile=paths.get('keyfile'))
        context.verify_mode = ssl.VerifyMode(paths.get('cert_reqs') or 0)
        if paths.get('ciphers'):
            context.set_ciphers(paths['ciphers'])
        alpn = _alpn(paths.get('http_protocols') or [])
        if alpn:
            context.set_alpn_protocols(alpn)
        return context

    for name, original in originals.items():
        setattr(ssl.SSLContext, name, watcher(name, original))
    try:
        context = hook(cfg, default_ssl_context_factory)
        if not isinstance(context, ssl.SSLContext):
            raise TranslateError('ssl_context: expected the hook to return an ssl.SSLContext, got %s' % type(context).__name__)
        return translate(context, calls.get(id(context), {}), paths)
    finally:
        for name, original in originals.items():
            if name in own:
                setattr(ssl.SSLContext, name, original)
            else:
                delattr(ssl.SSLContext, name)


def _last(done: Dict[str, list], name: str) -> Optional[Dict[str, Any]]:
    """The arguments of the last call of `name`, by parameter name."""
    if name not in done:
        return None
    args, kwargs = done[name][-1]
    params = {
        'load_cert_chain': ('certfile', 'keyfile', 'password'),
        'load_verify_locations': ('cafile', 'capath', 'cadata'),
        'set_ciphers': ('ciphers',), 'set_alpn_protocols': ('protocols',),
        'set_ecdh_curve': ('name',), 'load_dh_params': ('path',),
    }[name]
    found = dict(zip(params, args))
    found.update(kwargs)
    return found


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    if callable(value):
        value = value()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode('utf-8')
    return str(value)


def translate(context: ssl.SSLContext, done: Dict[str, list], paths: Dict[str, Any]) -> Dict[str, Any]:
    chain = _last(done, 'load_cert_chain')
    if chain is None:
        raise TranslateError('ssl_context: expected the returned context to have a certificate '
                             '(load_cert_chain, or default_ssl_context_factory()), got none')
    for args, kwargs in done.get('load_verify_locations', []):
        if (len(args) > 1 and args[1]) or kwargs.get('capath'):
            raise TranslateError('ssl_context: load_verify_locations(capath=...) cannot be given to Node; use cafile')
    if getattr(context, 'sni_callback', None) is not None:
        raise TranslateError('ssl_context: an SNI callback cannot run in Node, which terminates TLS')
    if getattr(context, 'keylog_filename', None):
        raise TranslateError('ssl_context: keylog_filename is not supported')
    alpn = _last(done, 'set_alpn_protocols')
    if alpn is not None and list(alpn.get('protocols') or []) != _alpn(paths.get('http_protocols') or []):
        raise TranslateError('ssl_context: set_alpn_protocols(%r) cannot be translated; the ALPN '
                             'protocols come from --http-protocols' % (alpn.get('protocols'),))
    ca = [ssl.DER_cert_to_PEM_cert(der) for der in context.get_ca_certs(binary_form=True)]
    ciphers = _last(done, 'set_ciphers')
    curve = _last(done, 'set_ecdh_curve')
    dh = _last(done, 'load_dh_params')
    return {
        'certfile': str(chain['certfile']),
        'keyfile': None if chain.get('keyfile') is None else str(chain['keyfile']),
        'passphrase': _text(chain.get('password')),
        'ca': ca or None,
        'cert_reqs': int(context.verify_mode),
        'min_version': _VERSIONS.get(context.minimum_version),
        'max_version': _VERSIONS.get(context.maximum_version),
        'ciphers': None if ciphers is None else str(ciphers['ciphers']),
        'ecdh_curve': None if curve is None else str(curve['name']),
        'dhparam': None if dh is None else str(dh['path']),
    }
