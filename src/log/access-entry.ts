/**
 * What the access log is told about one finished request: the text format (access.ts), the JSON
 * line (access-json.ts) and StatsD all read it, so it lives apart from any of them.
 */
export interface AccessEntry {
  remoteAddr: string;
  method: string;
  /** The raw request target: "/path?query". */
  target: string;
  path: string;
  /** Without the "?"; "" when there is none. */
  query: string;
  protocol: string;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** Node's rawHeaders: name, value, name, value, ... */
  requestHeaders: string[];
  responseHeaders: Array<[string, string]>;
  /** When the request arrived, ms since the epoch. */
  start: number;
  durationMicros: number;
  workerPid: number;
  /** wsgi.url_scheme: the listener's, or what a trusted proxy says. */
  scheme?: string;
  /** REMOTE_PORT ("" when unknown: a unix socket). */
  remotePort?: string;
  /** The request's WSGI environ (CGI part): the JSON line's server and body-size fields. */
  environ?: ReadonlyArray<readonly [string, string]>;
  /** The id the app saw under --request-id-header (request-id.ts); undefined when that is off. */
  requestId?: string;
}
