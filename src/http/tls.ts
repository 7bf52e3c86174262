/**
 * TLS for the listeners, built once at startup from the SSL settings: the files are read and
 * checked here (by building a secure context) so that a bad path or a key that does not fit its
 * certificate is one config-error line naming the flag, not a failure at the first handshake.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext, type TLSSocket, type TlsOptions } from 'node:tls';
import { ConfigError } from '../errors';

export interface TlsSettings {
  certfile: string | null;
  keyfile: string | null;
  caCerts: string | null;
  certReqs: 0 | 1 | 2;
  ciphers: string | null;
  /** --http-protocols: which of HTTP/1.1 and HTTP/2 the TLS listeners offer. */
  httpProtocols: ReadonlyArray<'h1' | 'h2'>;
}

export interface TlsSetup {
  /** For https.createServer and http2.createSecureServer. */
  readonly options: TlsOptions;
  /**
   * --cert-reqs 1 (Python's CERT_OPTIONAL): a client may send no certificate, but one it sends must
   * verify. Node has no such mode (it either rejects or accepts any certificate), so the server
   * accepts any and `refusedPeer` applies the check after the handshake.
   */
  readonly verifyOptional: boolean;
  readonly h1: boolean;
  readonly h2: boolean;
}

/** The SSL settings that only mean something with a certificate. */
const NEEDS_CERT = [
  ['keyfile', '--keyfile'],
  ['caCerts', '--ca-certs'],
  ['ciphers', '--ciphers'],
] as const;

/** null when TLS is off (no --certfile). Throws ConfigError. `cwd`: where relative paths start. */
export function tlsSetup(settings: TlsSettings, cwd: string): TlsSetup | null {
  const h2 = settings.httpProtocols.includes('h2');
  if (settings.certfile === null) {
    for (const [key, flag] of NEEDS_CERT) {
      if (settings[key] !== null) throw new ConfigError(`${flag}: has no effect without --certfile; give --certfile to serve TLS`);
    }
    // Without a certificate the listeners would silently accept clients the setting means to refuse.
    if (settings.certReqs !== 0) throw new ConfigError('--cert-reqs: client certificates need TLS; give --certfile');
    // HTTP/2 is chosen by ALPN inside the TLS handshake; browsers do not speak cleartext h2c.
    if (h2) throw new ConfigError(`--http-protocols: h2 needs TLS (--certfile); without it only h1 is served, got "${settings.httpProtocols.join(',')}"`);
    return null;
  }
  const certPath = resolve(cwd, settings.certfile);
  const cert = readPem('--certfile', certPath);
  const keyPath = settings.keyfile === null ? null : resolve(cwd, settings.keyfile);
  // gunicorn (Python's load_cert_chain) takes the key from the certificate file when none is given.
  const key = keyPath === null ? cert : readPem('--keyfile', keyPath);
  const options: TlsOptions = { cert, key };
  check(() => createSecureContext({ cert }), `--certfile: "${certPath}" holds no usable PEM certificate`);
  check(() => createSecureContext({ key }), keyPath === null ? `--keyfile: not given, and "${certPath}" holds no usable PEM private key` : `--keyfile: "${keyPath}" holds no usable PEM private key`);
  check(() => createSecureContext({ cert, key }), `--keyfile: the key does not belong to the certificate in "${certPath}"`);
  if (settings.caCerts !== null) {
    const caPath = resolve(cwd, settings.caCerts);
    const ca = readPem('--ca-certs', caPath);
    // A file without a certificate would make every client certificate fail, silently.
    check(() => new X509Certificate(ca), `--ca-certs: "${caPath}" holds no PEM certificate`);
    options.ca = ca;
  }
  if (settings.ciphers !== null) {
    const ciphers = settings.ciphers;
    check(() => createSecureContext({ ciphers }), `--ciphers: expected an OpenSSL cipher list, got "${ciphers}"`);
    options.ciphers = ciphers;
  }
  if (settings.certReqs > 0) {
    options.requestCert = true;
    options.rejectUnauthorized = settings.certReqs === 2;
  }
  return { options, verifyOptional: settings.certReqs === 1, h1: settings.httpProtocols.includes('h1'), h2 };
}

/**
 * Why a TLS connection must be dropped under --cert-reqs 1 (a certificate that failed
 * verification), or null. Called once the handshake is done.
 */
export function refusedPeer(socket: TLSSocket): string | null {
  if (socket.authorized) return null;
  const peer = socket.getPeerCertificate();
  // No certificate at all is what "optional" allows.
  if (!peer || Object.keys(peer).length === 0) return null;
  return `client certificate refused: ${String(socket.authorizationError ?? 'not verified')}`;
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`${flag}: cannot read "${path}" (${e.code ?? e.message})`);
  }
}

function check(build: () => unknown, message: string): void {
  try {
    build();
  } catch (err) {
    const reason = (err as Error).message.replace(/\s+/g, ' ');
    throw new ConfigError(`${message} (${reason})`);
  }
}
