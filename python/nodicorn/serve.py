"""`serve(app, **kw)` with waitress's signature: `from nodicorn import serve` in place of waitress's.

The keywords are waitress's (waitress/adjustments.py). Those with a nodicorn counterpart become its
command-line settings; those that tune waitress's own event loop are accepted and ignored with a
warning; the few whose meaning nodicorn cannot keep (`sockets`, a `url_scheme` other than http)
are a ValueError; anything else is a TypeError naming the keyword. Settings not given here come
from the usual places (./nodicorn.conf.py or ./gunicorn.conf.py, NODICORN_* variables).

One difference on purpose: without host, port or listen, waitress listens on 0.0.0.0:8080, every
interface; nodicorn listens on 127.0.0.1:8080 unless asked for more (host='0.0.0.0').
"""
from __future__ import annotations

import sys
import warnings
from typing import Any, Callable, Dict, List, Tuple

from nodicorn.appref import find_app
from nodicorn.run import inside_worker, run

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

def _int(value: Any) -> str:
    return str(int(value))


def _text(value: Any) -> str:
    return str(value)


# waitress keyword -> (nodicorn flag, the value as that flag's argument). `workers` is nodicorn's own.
FLAGS: Dict[str, Tuple[str, Callable[[Any], str]]] = {
    "threads": ("--threads", _int),
    "workers": ("--workers", _int),
    "backlog": ("--backlog", _int),
    "connection_limit": ("--worker-connections", _int),
    "channel_timeout": ("--keep-alive", _int),
    "max_request_body_size": ("--limit-request-body", _int),
    "url_prefix": ("--root-path", lambda v: "/" + str(v).strip("/") if str(v).strip("/") else ""),
    "trusted_proxy": ("--forwarded-allow-ips", _text),
}

# Accepted so a waitress call runs unchanged; nodicorn has nothing they would change.
IGNORED: Dict[str, str] = {
    **dict.fromkeys(
        ("recv_bytes", "send_bytes", "outbuf_overflow", "outbuf_high_watermark", "inbuf_overflow", "cleanup_interval",
         "asyncore_loop_timeout", "asyncore_use_poll", "channel_request_lookahead", "log_socket_errors"),
        "it tunes waitress's own I/O loop",
    ),
    "max_request_header_size": "nodicorn limits each header line instead (--limit-request-field_size, --limit-request-fields)",
    "ident": "nodicorn sends no Server header",
    "server_name": "SERVER_NAME comes from the request's Host header, as WSGI says",
    "expose_tracebacks": "nodicorn never sends a traceback to the client",
    "trusted_proxy_count": "nodicorn trusts the proxy headers of every --forwarded-allow-ips address",
    "trusted_proxy_headers": "nodicorn reads gunicorn's proxy headers (--forwarder-headers, --secure-scheme-headers)",
    "log_untrusted_proxy_headers": "nodicorn does not log proxy headers",
    "clear_untrusted_proxy_headers": "nodicorn reads proxy headers only from --forwarded-allow-ips addresses",
    "unix_socket_perms": "nodicorn's UNIX sockets take their mode from --umask",
    "ipv4": "the host or listen address says which family",
    "ipv6": "the host or listen address says which family",
    "_quiet": "nodicorn logs as its log settings say",
}
BIND_KEYS = ("host", "port", "listen", "unix_socket")


def _listen_address(entry: str) -> str:
    """waitress's listen entry (HOST:PORT, [V6]:PORT, *:PORT, HOST) as a --bind address."""
    host, sep, port = entry.rpartition(":")
    if not sep or "]" in port:
        host, port = entry, str(DEFAULT_PORT)
    if host in ("*", ""):
        return f":{int(port)}"
    return f"{host}:{int(port)}"


def _binds(kw: Dict[str, Any], caller: str) -> List[str]:
    given = [k for k in BIND_KEYS if k in kw]
    if "listen" in given and len(given) > 1:
        raise ValueError(f"{caller}: listen may not be set with {', '.join(k for k in given if k != 'listen')}")
    if "unix_socket" in given and len(given) > 1:
        raise ValueError(f"{caller}: unix_socket may not be set with {', '.join(k for k in given if k != 'unix_socket')}")
    if "listen" in kw:
        listen = kw["listen"]
        entries = listen.split() if isinstance(listen, str) else list(listen)
        return [_listen_address(str(e)) for e in entries]
    if "unix_socket" in kw:
        return [f"unix:{kw['unix_socket']}"]
    host = str(kw.get("host") or DEFAULT_HOST)
    port = int(kw.get("port", DEFAULT_PORT))
    return [f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"]


def server_args(kw: Dict[str, Any], caller: str = "serve()") -> List[str]:
    """waitress keywords -> nodicorn command-line arguments (warnings for the ignored ones)."""
    for key in kw:
        if key not in FLAGS and key not in IGNORED and key not in BIND_KEYS and key not in ("url_scheme", "sockets"):
            raise TypeError(f"{caller} got an unexpected keyword argument {key!r}")
    if "sockets" in kw:
        raise ValueError(f"{caller}: sockets= is not supported: nodicorn's server process opens its own sockets; pass host and port, or listen")
    if str(kw.get("url_scheme", "http")) != "http":
        raise ValueError(
            f"{caller}: url_scheme={kw['url_scheme']!r} is not supported: wsgi.url_scheme is https when nodicorn serves TLS "
            "(--certfile) or a trusted proxy says so (trusted_proxy=, --forwarded-allow-ips)"
        )
    args: List[str] = []
    for address in _binds(kw, caller):
        args += ["--bind", address]
    for key, value in kw.items():
        if key in FLAGS:
            flag, convert = FLAGS[key]
            try:
                args += [flag, convert(value)]
            except (TypeError, ValueError):
                raise ValueError(f"{caller}: {key}={value!r}: expected a number") from None
        elif key in IGNORED and key != "_quiet":
            warnings.warn(f"{caller}: {key} is accepted and ignored: {IGNORED[key]}", RuntimeWarning, stacklevel=3)
    return args


def serve(app: Any, **kw: Any) -> None:
    """Serves `app` with nodicorn until the server stops; waitress's keywords (see the module doc).

    In a nodicorn worker importing the app's module, returns at once: the call that started the
    server is being replayed by the import, and the worker serves the app itself.
    """
    if inside_worker():
        return
    args = server_args(kw)
    ref = find_app(app, sys._getframe(1).f_globals)
    run(args, ref, "serve()")
