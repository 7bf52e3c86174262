/** nodicorn's own static files, served by Node before a request reaches a worker (uWSGI's --static-map). */
import { many, one } from '../define';
import * as P from '../parsers';

export const STATIC = {
  staticMap: many<string>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--static-map'],
    metavar: 'URL_PREFIX=DIR',
    file: 'static_map',
    parser: P.staticMapping,
    default: [],
    doc:
      'Serve the files under DIR at URL_PREFIX from Node, without a worker (uWSGI\u2019s --static-map). Repeat ' +
      'for several; the longest prefix wins. GET and HEAD only, with ETag and Last-Modified (304 on ' +
      'If-None-Match or If-Modified-Since), a single byte Range (206, or 416; several ranges get the whole ' +
      'file, 200), a precompressed FILE.br or FILE.gz when the client accepts it (Vary: Accept-Encoding), and ' +
      'Content-Type from a built-in table of common extensions. A path with a dot segment, an encoded slash, ' +
      'a backslash or a NUL, or a symlink leading outside DIR, is answered 404; a missing file, a directory ' +
      '(never listed), a dotfile, another method, or a request with a body goes to the app. Access-logged ' +
      'like any request, with the master\u2019s pid.',
  }),
  staticMaxAge: one<number>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--static-max-age'],
    metavar: 'SECONDS',
    file: 'static_max_age',
    parser: P.nonNegativeInt,
    default: 0,
    doc: 'The max-age of --static-map files: Cache-Control: public, max-age=SECONDS (0: caches revalidate each time).',
  }),
} as const;
