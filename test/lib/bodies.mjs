// Bodies: a request body in chunked transfer-coding, and what the download fixture sends.
import { createHash } from 'node:crypto';

/** Encodes a body as chunked transfer-coding with the given chunk sizes. */
export function chunked(body, size = 7) {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const parts = [];
  for (let at = 0; at < buf.length; at += size) {
    const piece = buf.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** sha256 hex of what fixtures/apps/big_download.py sends for ?mb=N. */
export function downloadSha(mb) {
  const BLOCK = 1024 * 1024;
  const pattern = Buffer.alloc(BLOCK - 8);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7 + 3) % 256;
  const hash = createHash('sha256');
  const index = Buffer.alloc(8);
  for (let k = 0; k < mb; k++) {
    index.writeBigUInt64BE(BigInt(k));
    hash.update(index);
    hash.update(pattern);
  }
  return hash.digest('hex');
}
