/**
 * The request headers a static file answers to, as pure functions: validators (ETag,
 * Last-Modified and the conditional requests of RFC 9110 §13), byte ranges (§14) and which
 * precompressed sibling the client accepts (§12.5.3).
 */

/** What identifies one version of one representation (a file or its .br/.gz sibling). */
export interface Validators {
  /** Strong, from size and mtime as nginx makes it, so If-Range can use it. */
  etag: string;
  lastModified: string;
  /** mtime in whole seconds, as HTTP dates carry it. */
  mtimeSeconds: number;
}

export function validatorsOf(size: number, mtimeMs: number): Validators {
  const seconds = Math.floor(mtimeMs / 1000);
  return {
    etag: `"${Math.floor(mtimeMs).toString(16)}-${size.toString(16)}"`,
    lastModified: new Date(seconds * 1000).toUTCString(),
    mtimeSeconds: seconds,
  };
}

/**
 * 304 for a GET or HEAD whose cached copy is current: If-None-Match when present (weak
 * comparison, `*` for any), else If-Modified-Since.
 */
export function notModified(v: Validators, ifNoneMatch: string | undefined, ifModifiedSince: string | undefined): boolean {
  if (ifNoneMatch !== undefined) {
    for (const raw of ifNoneMatch.split(',')) {
      const tag = raw.trim();
      if (tag === '*' || opaque(tag) === opaque(v.etag)) return true;
    }
    return false;
  }
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    return Number.isFinite(since) && v.mtimeSeconds * 1000 <= since;
  }
  return false;
}

/** The tag without its weakness mark: W/"x" and "x" compare equal weakly. */
function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * If-Range: the range applies only while the client's copy is this one (a strong ETag match,
 * or exactly this Last-Modified date).
 */
export function rangeStillValid(v: Validators, ifRange: string | undefined): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === v.etag;
  return value === v.lastModified;
}

export type RangeAnswer =
  | { kind: 'whole' }
  | { kind: 'part'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * A Range header against a body of `size` bytes. One satisfiable range is a part; several are
 * answered with the whole body (200), as nginx does for a file it will not split into
 * multipart/byteranges; none satisfiable is a 416; a header that is not a bytes range is ignored.
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'whole' };
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!match) return { kind: 'whole' };
  const specs = (match[1] as string).split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0) return { kind: 'whole' };
  const parts: Array<{ start: number; end: number }> = [];
  for (const spec of specs) {
    const m = /^(\d*)-(\d*)$/.exec(spec);
    if (!m || (m[1] === '' && m[2] === '')) return { kind: 'whole' };
    let start: number;
    let end: number;
    if (m[1] === '') {
      // A suffix: the last N bytes.
      const n = Number(m[2]);
      if (n === 0) continue;
      start = Math.max(0, size - n);
      end = size - 1;
    } else {
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      if (m[2] !== '' && Number(m[2]) < start) return { kind: 'whole' };
    }
    if (start < size && start <= end) parts.push({ start, end });
  }
  if (parts.length === 0) return { kind: 'unsatisfiable' };
  if (specs.length > 1) return { kind: 'whole' };
  const only = parts[0] as { start: number; end: number };
  return { kind: 'part', start: only.start, end: only.end };
}

/** The content codings of precompressed siblings, in the order they are preferred. */
export const CODINGS = [
  { coding: 'br', suffix: '.br' },
  { coding: 'gzip', suffix: '.gz' },
] as const;
export type Coding = (typeof CODINGS)[number];

/** The codings the client takes (q above 0), preferred ones first; identity is always fine. */
export function acceptedCodings(header: string | undefined): Coding[] {
  if (header === undefined) return [];
  const q = new Map<string, number>();
  for (const item of header.split(',')) {
    const [name, ...params] = item.trim().toLowerCase().split(';');
    let weight = 1;
    for (const p of params) {
      const [k, val] = p.trim().split('=');
      if (k === 'q') weight = Number(val);
    }
    if (name) q.set(name.trim(), Number.isFinite(weight) ? weight : 0);
  }
  const star = q.get('*');
  return CODINGS.filter(({ coding }) => (q.get(coding) ?? (coding === 'gzip' ? q.get('x-gzip') : undefined) ?? star ?? 0) > 0);
}
