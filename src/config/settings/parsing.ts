/**
 * gunicorn's switches that relax its HTTP parser. Node's llhttp stays strict whatever they say, as
 * gunicorn is by default; the header map keeps gunicorn's default (drop).
 */
import { flag, one } from '../define';
import * as G from '../gunicorn-parsers';

const STRICT = 'Node\u2019s llhttp parser stays strict (as gunicorn is by default) and rejects such requests with 400';

/** One of gunicorn's parser relaxations: accepted, warned about, and the parser stays strict. */
function relaxation(file: string, what: string) {
  return flag({
    section: 'Server Mechanics',
    gunicorn: { noEffect: STRICT },
    flags: [`--${file.replace(/_/g, '-')}`],
    file,
    default: false,
    doc: `gunicorn\u2019s permission for ${what}. Accepted with a warning: ${STRICT}.`,
  });
}

export const PARSING = {
  permitObsoleteFolding: relaxation('permit_obsolete_folding', 'header lines folded onto the next line'),
  stripHeaderSpaces: relaxation('strip_header_spaces', 'spaces between a header name and its colon'),
  permitUnconventionalHttpMethod: relaxation('permit_unconventional_http_method', 'request methods outside the usual forms'),
  permitUnconventionalHttpVersion: relaxation('permit_unconventional_http_version', 'HTTP versions other than 1.0 and 1.1'),
  casefoldHttpMethod: relaxation('casefold_http_method', 'lower-case request methods, upper-cased'),
  headerMap: one<'drop'>({
    section: 'Server Mechanics',
    gunicorn: { differs: 'drop only (gunicorn\u2019s default); refuse and dangerous are refused.' },
    flags: ['--header-map'],
    metavar: 'STRING',
    file: 'header_map',
    parser: G.choiceOrRefused(['drop'] as const, {
      refuse: 'nodicorn drops headers whose names contain an underscore (drop); it cannot answer them with 400',
      dangerous: 'nodicorn never maps underscore headers into the environ, where they could pose as dash ones; use drop',
    }),
    default: 'drop',
    doc: 'What to do with a header whose name has an underscore (it could pose as the dash one in the environ): drop it, as gunicorn does by default.',
  }),
} as const;
