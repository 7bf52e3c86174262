/**
 * The access log's JSON line (--log-format json): one object per request, named by
 * OpenTelemetry's HTTP server semantic conventions so a log pipeline maps it without a parser:
 *
 *   {"time":"2026-11-25T04:34:10.250Z","http.request.method":"GET","url.path":"/search",
 *    "url.query":"q=1","url.scheme":"http","http.response.status_code":200,
 *    "client.address":"192.0.2.7","client.port":51234,"server.address":"example.com",
 *    "server.port":8000,"network.protocol.version":"1.1","user_agent.original":"curl/8.0",
 *    "http.server.request.duration":0.002345,"http.request.body.size":12,
 *    "http.response.body.size":1234,"process.pid":4321,"http.request.id":"..."}
 *
 * `time` is when the request arrived (the text format's %(t)s). `process.pid` is the worker that
 * ran the app (this process's own pid for requests answered without one). A key is left out when
 * its value is unknown: url.query without a query, client.address and client.port on a unix socket,
 * http.request.body.size without Content-Length, http.request.id without --request-id-header.
 * `{Name}i` and `{Name}o` atoms in --access-logformat add http.request.header.<name> and
 * http.response.header.<name> (lower-case; OTel's form, a list of the header's values).
 */
import type { AccessEntry } from './access-entry';
import { fromWire, lineSafe } from './json-line';

type Render = (e: AccessEntry) => string;

const VERSIONS: Record<string, string> = { 'HTTP/1.0': '1.0', 'HTTP/1.1': '1.1', 'HTTP/2.0': '2', 'HTTP/2': '2' };

function environValue(e: AccessEntry, key: string): string | undefined {
  const environ = e.environ;
  if (!environ) return undefined;
  for (const [k, v] of environ) if (k === key) return v;
  return undefined;
}

const port = (text: string | undefined): number | undefined => {
  if (!text || !/^\d{1,5}$/.test(text)) return undefined;
  return Number(text);
};

/** OTel's server.address/port: the Host the client asked for, else the listener's. */
function server(e: AccessEntry): [string | undefined, number | undefined] {
  const host = environValue(e, 'HTTP_HOST');
  if (host) {
    const colon = host.lastIndexOf(':');
    if (colon > 0 && colon > host.lastIndexOf(']')) return [host.slice(0, colon), port(host.slice(colon + 1))];
    return [host, port(environValue(e, 'SERVER_PORT'))];
  }
  return [environValue(e, 'SERVER_NAME') || undefined, port(environValue(e, 'SERVER_PORT'))];
}

function headerValues(raw: string[], lowerName: string): string[] | undefined {
  let found: string[] | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) (found ??= []).push(fromWire(raw[i + 1] as string));
  }
  return found;
}

function responseValues(headers: Array<[string, string]>, lowerName: string): string[] | undefined {
  let found: string[] | undefined;
  for (const [name, value] of headers) {
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) (found ??= []).push(fromWire(value));
  }
  return found;
}

/**
 * `headers`: the lower-case names of the format's {Name}i and {Name}o atoms. `requestIdHeader`:
 * the lower-case --request-id-header, whose {Name}i field shows the id the app saw.
 */
export function compileJsonAccess(headers: { request: string[]; response: string[] }, requestIdHeader?: string): Render {
  const requestHeaders = [...new Set(headers.request)];
  const responseHeaders = [...new Set(headers.response)];
  return (e) => {
    const [serverAddress, serverPort] = server(e);
    const bodySize = contentLength(environValue(e, 'CONTENT_LENGTH'));
    const ua = headerValues(e.requestHeaders, 'user-agent');
    const record: Record<string, unknown> = {
      time: new Date(e.start).toISOString(),
      'http.request.method': e.method,
      'url.path': fromWire(e.path),
      'url.query': e.query === '' ? undefined : fromWire(e.query),
      'url.scheme': e.scheme,
      'http.response.status_code': e.status,
      // The text format's "-" for an unknown peer (a unix socket without a proxy's word) is left out.
      'client.address': e.remoteAddr === '-' || e.remoteAddr === '' ? undefined : e.remoteAddr,
      'client.port': port(e.remotePort),
      'server.address': serverAddress === undefined ? undefined : fromWire(serverAddress),
      'server.port': serverPort,
      'network.protocol.version': VERSIONS[e.protocol] ?? e.protocol.replace(/^HTTP\//, ''),
      'user_agent.original': ua === undefined ? undefined : ua.join(', '),
      'http.server.request.duration': e.durationMicros / 1_000_000,
      'http.request.body.size': bodySize,
      'http.response.body.size': e.bytes,
      'process.pid': e.workerPid,
      'http.request.id': e.requestId,
    };
    for (const name of requestHeaders) record[`http.request.header.${name}`] =
      e.requestId !== undefined && name === requestIdHeader ? [e.requestId] : headerValues(e.requestHeaders, name);
    for (const name of responseHeaders) record[`http.response.header.${name}`] = responseValues(e.responseHeaders, name);
    return lineSafe(JSON.stringify(record));
  };
}

function contentLength(text: string | undefined): number | undefined {
  if (!text || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}
