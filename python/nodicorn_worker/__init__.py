"""The Python side of nodicorn: a worker process that runs a WSGI app for the Node core.

Node owns every socket; it hands requests to this process as binary frames on fd 3
(see protocol.py) and this package turns them into WSGI calls. Stdlib only, Python 3.9+,
no fork and no select on pipes, so the same code runs on Windows.
"""

__version__ = '0.1.0'
