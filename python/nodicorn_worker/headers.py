"""start_response's status and headers: validated, then encoded as one RESPONSE_HEAD frame.

The app gets a TypeError or ValueError for a malformed status or header (PEP 3333 leaves the
check to the server; passing CR/LF through would let an app's data split the response).
Validated statuses and header names are cached, since an app sends the same few again and
again. Whole heads are cached too: an API endpoint or a static page answers with the very same
status and header list (same Content-Length, same Content-Type) request after request, and then
its head costs one tuple hash and one dict lookup instead of a validation pass per header.
"""
from __future__ import annotations

import re
import struct
import sys
from typing import List, Optional, Tuple

from . import protocol as P
from .protocol import lens_struct

# RFC 9110 5.6.2: token = 1*tchar.
_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z").match
_bad_value = re.compile('[\r\n\x00]').search

# RFC 9110 7.6.1 hop-by-hop fields: they describe one connection, which Node owns, so an app's
# copy is dropped (as gunicorn does). "Connection: close" is kept: Node then closes after this
# response.
_HOP_BY_HOP = frozenset(('keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te',
                         'trailers', 'transfer-encoding', 'upgrade'))
_OK, _DROP, _CONNECTION = 0, 1, 2
_CACHE_MAX = 1024

_names = {}
_statuses = {}
_warned = set()
# (status, tuple(headers)) -> the frame after its id: what encode_head produced for it. Only
# heads that passed validation get in; one that fails is checked (and fails) again every time.
_heads = {}
_HEADS_MAX = 256

_head_prefix = struct.Struct('<IBIHH')
_pack_header = P.pack_header
_ID_END = P.HEADER_SIZE  # a frame's bytes past its length, type and id
_RESPONSE_HEAD = P.RESPONSE_HEAD


def _check_name(name):
    if type(name) is not str:
        raise TypeError('header name must be a str, got %r' % (name,))
    if not _is_token(name):
        raise ValueError('invalid header name %r' % (name,))
    lower = name.lower()
    if lower == 'connection':
        kind = _CONNECTION
    elif lower in _HOP_BY_HOP:
        kind = _DROP
    else:
        kind = _OK
    if len(_names) < _CACHE_MAX:
        _names[name] = kind
    return kind


def _parse_status(status):
    if type(status) is not str:
        raise TypeError('status must be a str like "200 OK", got %r' % (status,))
    code = status[:3]
    if len(status) < 4 or status[3] != ' ' or not (code.isdigit() and code.isascii()):
        raise ValueError('status must be "NNN reason" (3 digits, a space), got %r' % (status,))
    reason = status[4:]
    if _bad_value(reason):
        raise ValueError('status contains CR, LF or NUL: %r' % (status,))
    try:
        reason.encode('latin-1')
    except UnicodeEncodeError:
        raise ValueError('status reason must be latin-1: %r' % (status,))
    code = int(code)
    if code < 100:
        raise ValueError('status code must be 100..999, got %r' % (status,))
    parsed = (code, reason)
    if len(_statuses) < _CACHE_MAX:
        _statuses[status] = parsed
    return parsed


def _warn_dropped(name):
    key = name.lower()
    if key not in _warned:
        _warned.add(key)
        sys.stderr.write('nodicorn worker: dropped hop-by-hop response header %r from the app '
                         '(the server manages the connection); warned once per worker\n' % name)


def encode_head(fid: int, status: str, headers: List[Tuple[str, str]]) -> bytes:
    """The RESPONSE_HEAD frame for this status and header list, or TypeError / ValueError."""
    if type(headers) is list:
        try:
            key = (status, tuple(headers))
            tail = _heads.get(key)
        except TypeError:  # an unhashable header or status: the checks below say what is wrong
            key = tail = None
        if tail is not None:
            return _pack_header(len(tail), _RESPONSE_HEAD, fid) + tail
    else:
        key = None
    frame = _encode_head(fid, status, headers)
    if key is not None:
        if len(_heads) >= _HEADS_MAX:
            # Heads that vary per request (a cookie, a length) would churn the cache: start
            # over rather than track which entries are still useful.
            _heads.clear()
        _heads[key] = frame[_ID_END:]
    return frame


def _encode_head(fid, status, headers):
    parsed = _statuses.get(status) if type(status) is str else None
    if parsed is None:
        parsed = _parse_status(status)
    code, reason = parsed
    if type(headers) is not list:
        raise TypeError('headers must be a list of (name, value) tuples, got %s' % type(headers).__name__)
    names = _names
    lens = []
    flat = [reason]
    for header in headers:
        if type(header) is not tuple or len(header) != 2:
            raise TypeError('each header must be a (name, value) tuple, got %r' % (header,))
        name, value = header
        kind = names.get(name)
        if kind is None:
            kind = _check_name(name)
        if type(value) is not str:
            raise TypeError('header %r: value must be a str, got %r' % (name, value))
        if _bad_value(value):
            raise ValueError('header %r: value contains CR, LF or NUL: %r' % (name, value))
        if kind:
            if kind == _CONNECTION and value.strip().lower() == 'close':
                pass
            else:
                _warn_dropped(name)
                continue
        lens.append(len(name))
        lens.append(len(value))
        flat.append(name)
        flat.append(value)
    try:
        text = ''.join(flat).encode('latin-1')
    except UnicodeEncodeError:
        for name, value in headers:
            try:
                value.encode('latin-1')
            except UnicodeEncodeError:
                raise ValueError('header %r: value must be latin-1 (encode it per RFC 8187 '
                                 'or as bytes.decode("latin-1")): %r' % (name, value))
        raise
    n = len(lens) >> 1
    block = lens_struct(n).pack(n, *lens)
    rlen = len(reason)
    return b''.join((_head_prefix.pack(len(text) + 4 + len(block), _RESPONSE_HEAD, fid, code, rlen),
                     text[:rlen], block, text[rlen:]))


def content_length(headers: List[Tuple[str, str]]) -> Optional[int]:
    """The app's Content-Length as an int, or None (used to bound a FILE range)."""
    for name, value in headers:
        if name.lower() == 'content-length':
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None
