"""nodicorn from pip: a WSGI server whose Node.js core owns the sockets while Python workers run the app.

`nodicorn` (the console script) and `python -m nodicorn` take the same arguments as the npm CLI;
see nodicorn.launcher.
"""
