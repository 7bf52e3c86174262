/**
 * One JSON object on one line, whatever its strings hold. JSON.stringify already escapes quotes,
 * backslashes, C0 controls and lone surrogates; this also escapes what some line readers take as a
 * line break or strip although JSON allows it raw: DEL, the C1 controls (U+0085 NEL among them) and
 * U+2028/U+2029 (Python's str.splitlines() splits on all of those). Object keys are the caller's
 * own names, so the replacement only ever touches the inside of string values.
 */
const LINE_UNSAFE = /[\u007f-\u009f\u2028\u2029]/g;

const escapeOne = (c: string): string => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');

/** `text` is JSON.stringify's output: made safe to write as one line. */
export function lineSafe(text: string): string {
  LINE_UNSAFE.lastIndex = 0;
  return LINE_UNSAFE.test(text) ? text.replace(LINE_UNSAFE, escapeOne) : text;
}

/**
 * A header value or request target as text: Node hands them over as latin-1 (one char per byte).
 * Valid UTF-8 is decoded (a UTF-8 user agent reads as written); bytes that are not valid UTF-8
 * become U+FFFD, so a log line is always valid UTF-8.
 */
export function fromWire(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) return Buffer.from(value, 'latin1').toString('utf8');
  }
  return value;
}
