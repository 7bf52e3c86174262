"""The worker's process title, as gunicorn's: "nodicorn: worker [NAME]" through the setproctitle
package when it is installed (ps, top and /proc/PID/cmdline show it). Without it, on Linux, the
kernel's command name (/proc/PID/comm, what top and ps -o comm show, 15 bytes at most) becomes
NAME. Elsewhere the title stays as it is, as gunicorn's does without setproctitle.
"""
import sys

COMM_MAX = 15


def set_title(name: str) -> None:
    try:
        from setproctitle import setproctitle
    except ImportError:
        pass
    else:
        setproctitle('nodicorn: worker [%s]' % name)
        return
    if not sys.platform.startswith('linux'):
        return
    try:
        # Writing comm is prctl(PR_SET_NAME) without ctypes; the kernel cuts it at 15 bytes,
        # possibly inside a UTF-8 sequence, so cut first on a character boundary.
        comm = name.encode('utf-8')[:COMM_MAX].decode('utf-8', 'ignore')
        with open('/proc/self/comm', 'w') as f:
            f.write(comm)
    except OSError:
        pass
