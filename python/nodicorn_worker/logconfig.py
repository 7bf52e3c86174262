"""Python's logging in a worker, set up as gunicorn's master sets it up before it forks workers.

Without a log config, as under gunicorn: the root logger is left alone (an app's own
logging.warning() reaches stderr through Python's last-resort handler, or wherever the app's
basicConfig sends it); the "gunicorn.error" logger has --log-level and one handler, and does not
propagate, so the common recipe of handing its handlers and level to the app's logger works;
"gunicorn.access" has level INFO and does not propagate (nodicorn's core writes the access log).

With --log-config-dict or --log-config-json, gunicorn's default dict is updated with the given one
(top-level keys replace the default's) and passed to dictConfig; with --log-config, the file goes
to fileConfig, existing loggers kept. The dict wins over the JSON file, which wins over the file.

With --capture-output, what this process writes on stderr and stdout reaches nodicorn's error
log, which puts its own time, pid and level in front of each line. So the handlers standing in
for gunicorn's own (the "gunicorn.error" handler, the default dict's "console" and
"error_console") then write the message alone, each line marked with its syslog severity ("<3>"),
which Node reads as the line's level. Without it, the worker shares the server's streams, as
gunicorn's do, and those handlers write gunicorn's own format, "gunicorn.error" into the
--error-logfile file when there is one. Handlers an app's config declares write what their
formatters say, where they say.

`python -m nodicorn_worker.logconfig` (probe_main) applies a config and reports where it sends
gunicorn.error and gunicorn.access, so that nodicorn's core can send its own lines there too.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from typing import List, Optional

LEVELS = {
    'debug': logging.DEBUG,
    'info': logging.INFO,
    'warning': logging.WARNING,
    'error': logging.ERROR,
    'critical': logging.CRITICAL,
}


def _severity(levelno: int) -> int:
    """Syslog severity of a logging level: 2 critical, 3 error, 4 warning, 6 info, 7 debug."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


# gunicorn's error-log line: [2026-11-25 04:34:10 +0000] [1234] [INFO] message
GENERIC_FORMAT = '%(asctime)s [%(process)d] [%(levelname)s] %(message)s'
GENERIC_DATEFMT = '[%Y-%m-%d %H:%M:%S %z]'

# Whether nodicorn reads this worker's stdout and stderr into its error log (--capture-output).
_captured = False


# --log-format json: the worker's own lines take the form of nodicorn's JSON error-log lines.
_json = False


class JsonLineFormatter(logging.Formatter):
    """{"time": "2026-11-25T04:34:10.123Z", "level": "info", "pid": 1234, "message": "..."}, as
    nodicorn's core writes its JSON error-log lines (the traceback, if any, ends the message)."""

    def format(self, record: logging.LogRecord) -> str:
        import datetime  # only in JSON mode
        message = record.getMessage()
        if record.exc_info:
            message += '\n' + self.formatException(record.exc_info)
        when = datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc)
        return json.dumps({'time': when.isoformat(timespec='milliseconds').replace('+00:00', 'Z'),
                           'level': record.levelname.lower(), 'pid': record.process, 'message': message},
                          separators=(',', ':'))


def _generic() -> logging.Formatter:
    return JsonLineFormatter() if _json else logging.Formatter(GENERIC_FORMAT, GENERIC_DATEFMT)


class NodeLineHandler(logging.StreamHandler):
    """gunicorn's console handler. When nodicorn captures the stream, it writes a record's message
    (and traceback) with each line marked with the record's severity, and Node adds the time, the
    pid and the level name; otherwise it writes gunicorn's format itself."""

    def __init__(self, stream: object = None) -> None:
        super().__init__(sys.stderr if stream is None else stream)
        self.setFormatter(logging.Formatter('%(message)s') if _captured else _generic())

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if not _captured:
            return text
        mark = '<%d>' % _severity(record.levelno)
        return '\n'.join(mark + line for line in text.split('\n'))


def _defaults() -> dict[str, object]:
    """gunicorn's default logging dict, by the same names (configs refer to them), with its
    console handlers writing through nodicorn's error log."""
    node_handler = 'nodicorn_worker.logconfig.NodeLineHandler'
    return {
        'version': 1,
        'disable_existing_loggers': False,
        'root': {'level': 'INFO', 'handlers': ['console']},
        'loggers': {
            'gunicorn.error': {'level': 'INFO', 'handlers': ['error_console'], 'propagate': True,
                               'qualname': 'gunicorn.error'},
            'gunicorn.access': {'level': 'INFO', 'handlers': ['console'], 'propagate': True,
                                'qualname': 'gunicorn.access'},
        },
        'handlers': {
            'console': {'class': node_handler, 'stream': 'ext://sys.stdout'},
            'error_console': {'class': node_handler, 'stream': 'ext://sys.stderr'},
        },
        'formatters': {
            'generic': {'format': '%(asctime)s [%(process)d] [%(levelname)s] %(message)s',
                        'datefmt': '[%Y-%m-%d %H:%M:%S %z]', 'class': 'logging.Formatter'},
        },
    }


class LogConfigError(Exception):
    """A log config that cannot be applied; the message names the setting and the chain of causes
    (dictConfig wraps the real problem twice). Reported without a traceback: it is a config error."""
    traceback = ''


def _causes(e: BaseException) -> str:
    parts = []
    seen = set()
    cur = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        text = str(cur)
        parts.append('%s: %s' % (type(cur).__name__, text) if isinstance(cur, KeyError) else text)
        cur = cur.__cause__
    return ': '.join(parts)


def setup(level: str, config_dict: Optional[str] = None, config_json: Optional[str] = None,
          config_file: Optional[str] = None, captured: bool = True, error_logfile: str = '-',
          json_lines: bool = False) -> None:
    global _captured, _json
    _captured = captured
    _json = json_lines
    _prepare_loggers(level, error_logfile)
    _apply_config(config_dict, config_json, config_file)


def _prepare_loggers(level: str, error_logfile: str = '-') -> None:
    """gunicorn's two loggers as its Logger leaves them before any log config."""
    error_log = logging.getLogger('gunicorn.error')
    error_log.propagate = False
    error_log.setLevel(LEVELS.get(level, logging.INFO))
    if _captured or error_logfile == '-':
        error_log.addHandler(NodeLineHandler())
    else:
        handler = logging.FileHandler(error_logfile)
        handler.setFormatter(_generic())
        error_log.addHandler(handler)
    access_log = logging.getLogger('gunicorn.access')
    access_log.propagate = False
    access_log.setLevel(logging.INFO)


def _apply_config(config_dict: Optional[str], config_json: Optional[str], config_file: Optional[str]) -> None:
    if config_dict is not None:
        _apply_dict('--log-config-dict', json.loads(config_dict))
    elif config_json is not None:
        try:
            with open(config_json, encoding='utf-8') as f:
                loaded = json.load(f)
        except (OSError, ValueError) as e:
            raise LogConfigError('--log-config-json: cannot read %s: %s' % (config_json, e))
        _apply_dict('--log-config-json', loaded)
    elif config_file is not None:
        import logging.config as logging_config  # only with a config: it imports socketserver
        try:
            logging_config.fileConfig(config_file, disable_existing_loggers=False, defaults={
                '__file__': config_file, 'here': os.path.dirname(config_file)})
        except Exception as e:
            raise LogConfigError('--log-config: %s: %s: %s' % (config_file, type(e).__name__, _causes(e)))


def _apply_dict(flag: str, given: object) -> None:
    if not isinstance(given, dict):
        raise LogConfigError('%s: expected a dict, got %s' % (flag, type(given).__name__))
    import logging.config as logging_config  # only with a config: it imports socketserver
    config = _defaults()
    config.update(given)
    try:
        logging_config.dictConfig(config)
    except (AttributeError, ImportError, ValueError, TypeError) as e:
        raise LogConfigError('%s: %s' % (flag, _causes(e)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--log-level', choices=sorted(LEVELS), default='info')
    parser.add_argument('--capture-output', action='store_true', help='nodicorn reads stdout and stderr')
    parser.add_argument('--error-logfile', default='-', help='where gunicorn.error writes without --capture-output')
    parser.add_argument('--log-format', choices=('text', 'json'), default='text')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--log-config-dict', default=None, help='a dictConfig dict, as JSON')
    group.add_argument('--log-config-json', default=None, help='a JSON file holding a dictConfig dict')
    group.add_argument('--log-config', default=None, help='a fileConfig file')


def setup_from_args(args: argparse.Namespace) -> None:
    setup(args.log_level, args.log_config_dict, args.log_config_json, args.log_config,
          captured=args.capture_output, error_logfile=args.error_logfile, json_lines=args.log_format == 'json')
    if hasattr(signal, 'SIGUSR1'):
        signal.signal(signal.SIGUSR1, lambda signum, frame: reopen_files())


def reopen_files() -> None:
    """SIGUSR1, which nodicorn passes on to its workers after a log rotation, as gunicorn's
    arbiter does: every logging.FileHandler opens its path again, so an app's log files (from a
    log config or its own basicConfig) follow logrotate."""
    loggers = [logging.getLogger()]
    loggers += [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if not isinstance(handler, logging.FileHandler):
                continue
            handler.acquire()
            try:
                old = handler.stream
                if old is not None:
                    handler.stream = handler._open()
                    old.close()
            except OSError as e:
                sys.stderr.write('<3>cannot reopen %s: %s\n' % (handler.baseFilename, e))
            finally:
                handler.release()



class _Sentinel(logging.Handler):
    """Stands for nodicorn's own log in a probe: a config that names the logger replaces it."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


def _describe(handler: logging.Handler) -> dict[str, object]:
    if isinstance(handler, logging.FileHandler):
        return {'kind': 'file', 'path': handler.baseFilename}
    stream = getattr(handler, 'stream', None)
    if type(handler) in (logging.StreamHandler, NodeLineHandler) and stream in (sys.stdout, sys.stderr):
        return {'kind': 'stdout' if stream is sys.stdout else 'stderr'}
    return {'kind': 'other', 'class': type(handler).__name__}


def probe(args: argparse.Namespace) -> dict[str, object]:
    """Applies the log config as a worker would, and reports what it made of the gunicorn.error
    and gunicorn.access loggers, which gunicorn writes its own lines through: nodicorn's core then
    sends its own error and access lines where those loggers' handlers point."""
    global _captured
    _captured = args.capture_output
    _prepare_loggers(args.log_level)
    sentinels = {name: _Sentinel() for name in ('gunicorn.error', 'gunicorn.access')}
    for name, sentinel in sentinels.items():
        logging.getLogger(name).handlers = [sentinel]
    # Only a config that names a logger replaces its sentinel.
    _apply_config(args.log_config_dict, args.log_config_json, args.log_config)
    report: dict[str, object] = {}
    for name, sentinel in sentinels.items():
        logger = logging.getLogger(name)
        if logger.handlers == [sentinel]:
            continue
        report[name] = {'level': logging.getLevelName(logger.getEffectiveLevel()).lower(),
                        'handlers': [_describe(h) for h in logger.handlers]}
    return report


def probe_main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m nodicorn_worker.logconfig',
                                     description="Reports where a log config sends gunicorn's own loggers (JSON).")
    parser.add_argument('--pythonpath', action='append', default=[])
    add_arguments(parser)
    args = parser.parse_args(argv)
    sys.path[:0] = [os.getcwd()] + [os.path.abspath(d) for d in args.pythonpath]
    try:
        report = probe(args)
    except LogConfigError as e:
        sys.stderr.write('%s\n' % e)
        return 2
    sys.stdout.write(json.dumps(report) + '\n')
    return 0


if __name__ == '__main__':
    # Through the package's copy of this module: the default dict names its handler class by
    # that path, and _describe must recognise it.
    from nodicorn_worker import logconfig as _package_copy
    sys.exit(_package_copy.probe_main())
