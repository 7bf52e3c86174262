// A bounded keep-alive load: `clients` raw HTTP/1.1 connections, each sending its next request as
// soon as the previous answer is whole, reconnecting after an answer that says Connection: close,
// and stopping when a connect is refused, or at the deadline. Every answer is counted, with the
// time it arrived and its Connection header, so a test can say what happened around a signal.
import net from 'node:net';

/**
 * Runs until every client stopped. Returns { answers: [{ status, close, at }], dropped, refused }:
 * `dropped` counts requests whose connection closed with no byte of an answer (a connection the
 * server closed while idle, racing the request), `refused` the clients that stopped on a refused
 * connect, `timeouts` the requests still unanswered at the deadline. `target` is a request path; `until` a Date.now() deadline; `stopAfter` stops a client
 * at its first answer past that time (so a test can bound the load without a refusal).
 */
export async function keepAliveLoad({ port, clients, target, until, stopAfter = Infinity, host = '127.0.0.1' }) {
  const result = { answers: [], dropped: 0, refused: 0, timeouts: 0 };
  await Promise.all(Array.from({ length: clients }, () => client({ port, host, target, until, stopAfter, result })));
  return result;
}

async function client({ port, host, target, until, stopAfter, result }) {
  while (Date.now() < until) {
    const socket = await connect(port, host);
    if (socket === null) {
      result.refused++;
      return;
    }
    try {
      // One connection: requests until it closes.
      for (;;) {
        if (Date.now() >= until) return;
        const answer = await exchange(socket, `GET ${target} HTTP/1.1\r\nHost: load\r\n\r\n`, until);
        if (answer === 'timeout') {
          result.timeouts++;
          return;
        }
        if (answer === null) {
          result.dropped++;
          break;
        }
        result.answers.push(answer);
        if (answer.at > stopAfter) return;
        if (answer.close) break;
      }
    } finally {
      socket.destroy();
    }
  }
}

function connect(port, host) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.removeAllListeners('error');
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', () => resolve(null));
  });
}

/** Writes one request and reads one answer (a Content-Length body); null if the connection closed first. */
function exchange(socket, request, until) {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let head = null;
    const timer = setTimeout(() => finish('timeout'), Math.max(0, until - Date.now()));
    function finish(value) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(value);
    }
    function onClose() {
      finish(null);
    }
    function onData(chunk) {
      buf = Buffer.concat([buf, chunk]);
      if (head === null) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        head = { status: Number(lines[0].split(' ')[1]), headers, bodyStart: end + 4 };
      }
      const length = Number(head.headers['content-length'] ?? 0);
      if (buf.length - head.bodyStart < length) return;
      finish({ status: head.status, close: /close/i.test(head.headers.connection ?? ''), at: Date.now() });
    }
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(request);
  });
}
