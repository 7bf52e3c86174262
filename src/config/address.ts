/**
 * Bind addresses as gunicorn spells them: HOST:PORT, [IPv6]:PORT, :PORT, HOST, unix:PATH, fd://N.
 */
import { ConfigError } from '../errors';

export type BindAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'fd'; fd: number };

export const DEFAULT_PORT = 8000;

/** Returns the parsed address, or null when `spec` is not one of the forms above. */
export function parseBind(spec: string): BindAddress | null {
  if (spec.startsWith('unix:')) {
    const path = spec.slice(5);
    return path ? { kind: 'unix', path } : null;
  }
  if (spec.startsWith('fd://')) {
    const fd = Number(spec.slice(5));
    return Number.isInteger(fd) && fd >= 0 ? { kind: 'fd', fd } : null;
  }
  let host: string;
  let portText: string | undefined;
  if (spec.startsWith('[')) {
    const close = spec.indexOf(']');
    if (close < 0) return null;
    host = spec.slice(1, close);
    const rest = spec.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return null;
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = spec.lastIndexOf(':');
    if (colon >= 0 && spec.indexOf(':') !== colon) return null; // bare IPv6 needs brackets
    host = colon < 0 ? spec : spec.slice(0, colon);
    portText = colon < 0 ? undefined : spec.slice(colon + 1);
  }
  if (host === '') host = '0.0.0.0';
  if (!/^[A-Za-z0-9._:%-]+$/.test(host)) return null;
  let port = DEFAULT_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return null;
    port = Number(portText);
    if (port > 65535) return null;
  }
  return { kind: 'tcp', host, port };
}

/** The URL-ish form used in "Listening at:" lines. */
export function formatAddress(address: BindAddress, scheme = 'http'): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  if (address.kind === 'fd') return `fd://${address.fd}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${scheme}://${host}:${address.port}`;
}

/** The --metrics-bind address; refused when it is one of --bind's (the app's listeners never serve it). */
export function metricsAddress(spec: string, appBinds: readonly string[]): Exclude<BindAddress, { kind: 'fd' }> {
  const address = parseBind(spec);
  if (!address || address.kind === 'fd') throw new ConfigError(`--metrics-bind: expected HOST:PORT, [HOST]:PORT or unix:PATH, got "${spec}"`);
  for (const bind of appBinds) {
    const app = parseBind(bind);
    const same =
      app !== null &&
      ((app.kind === 'unix' && address.kind === 'unix' && app.path === address.path) ||
        (app.kind === 'tcp' && address.kind === 'tcp' && app.port === address.port && app.port !== 0 && (app.host === address.host || app.host === '0.0.0.0' || address.host === '0.0.0.0')));
    if (same) throw new ConfigError(`--metrics-bind: expected an address that is not one of --bind's, got "${spec}" (also bound by --bind ${bind})`);
  }
  return address;
}
