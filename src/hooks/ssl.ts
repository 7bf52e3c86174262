/**
 * The ssl_context hook's context, as Node's TLS options. Node terminates TLS, so the hook host
 * runs the hook and reports what the returned SSLContext was given (python/nodicorn_worker/
 * sslhook.py says what translates and what is refused); this builds the listeners' options from it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext, type SecureVersion, type TlsOptions } from 'node:tls';
import { ConfigError } from '../errors';
import type { TlsSetup } from '../http/tls';

/** What the host reports about the context (sslhook.translate). */
export interface SslContextReport {
  certfile: string;
  keyfile: string | null;
  passphrase: string | null;
  ca: string[] | null;
  cert_reqs: 0 | 1 | 2;
  min_version: SecureVersion | null;
  max_version: SecureVersion | null;
  ciphers: string | null;
  ecdh_curve: string | null;
  dhparam: string | null;
}

/** `cwd`: the directory the host ran in (--chdir), where the hook's relative paths start. */
export function applySslContext(base: TlsSetup, report: SslContextReport, cwd: string): TlsSetup {
  const read = (path: string): Buffer => {
    try {
      return readFileSync(resolve(cwd, path));
    } catch (err) {
      throw new ConfigError(`ssl_context: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  const cert = read(report.certfile);
  const options: TlsOptions = { ...base.options, cert, key: report.keyfile === null ? cert : read(report.keyfile) };
  delete options.ca;
  delete options.ciphers;
  delete options.requestCert;
  delete options.rejectUnauthorized;
  if (report.passphrase !== null) options.passphrase = report.passphrase;
  if (report.ca) options.ca = report.ca;
  if (report.cert_reqs > 0) {
    options.requestCert = true;
    options.rejectUnauthorized = report.cert_reqs === 2;
  }
  if (report.min_version) options.minVersion = report.min_version;
  if (report.max_version) options.maxVersion = report.max_version;
  if (report.ciphers !== null) options.ciphers = report.ciphers;
  if (report.ecdh_curve !== null) options.ecdhCurve = report.ecdh_curve;
  if (report.dhparam !== null) options.dhparam = read(report.dhparam);
  try {
    createSecureContext(options);
  } catch (err) {
    throw new ConfigError(`ssl_context: Node cannot use the context the hook returned (${(err as Error).message.replace(/\s+/g, ' ')})`);
  }
  return { ...base, options, verifyOptional: report.cert_reqs === 1 };
}
