// A child's output, line by line, with waits for a line that matches.
export class LineCollector {
  constructor(stream, sink) {
    this.lines = [];
    this.waiters = new Set();
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (text) => {
      rest += text;
      let i;
      while ((i = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, i).replace(/\r$/, '');
        rest = rest.slice(i + 1);
        this.lines.push(line);
        if (sink) sink(line);
        for (const w of this.waiters) w();
      }
    });
    stream.on('end', () => {
      if (rest) { this.lines.push(rest); rest = ''; }
      this.ended = true;
      for (const w of this.waiters) w();
    });
  }

  /** Resolves with the first line (from line index `from`) matching `re`; rejects after `ms`. */
  waitFor(re, ms = 10_000, from = 0, what = 'output') {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.lines.length; i++) {
          const m = re.exec(this.lines[i]);
          if (m) { done(); resolve(m); return true; }
        }
        if (this.ended) { done(); reject(new Error(`${what} ended without a line matching ${re}:\n${this.tail()}`)); return true; }
        return false;
      };
      const timer = setTimeout(() => { done(); reject(new Error(`no ${what} line matching ${re} within ${ms} ms:\n${this.tail()}`)); }, ms);
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      if (!check()) this.waiters.add(check);
    });
  }

  tail(n = 40) {
    return this.lines.slice(-n).join('\n');
  }
}
