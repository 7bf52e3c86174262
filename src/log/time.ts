/**
 * Timestamps for log lines, in local time with its UTC offset as gunicorn prints them. Both are
 * cached for the current second: a busy access log formats the same second thousands of times.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** "+0000", "-0500", "+0530": the local offset from UTC at that moment. */
export function utcOffset(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

function cachedPerSecond(render: (date: Date) => string): (ms: number) => string {
  let second = Number.NaN;
  let text = '';
  return (ms) => {
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      text = render(new Date(s * 1000));
    }
    return text;
  };
}

/** "2026-11-25 04:34:10 +0000": the error log's time. */
export const formatLogTime = cachedPerSecond(
  (d) =>
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${utcOffset(d)}`,
);

/** "[25/Nov/2026:04:34:10 +0000]": the access log's %(t)s, Common Log Format. */
export const formatClfTime = cachedPerSecond(
  (d) =>
    `[${pad2(d.getDate())}/${MONTHS[d.getMonth()] ?? '???'}/${d.getFullYear()}:` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${utcOffset(d)}]`,
);
