// A bounded load that counts every answer: several clients, each on its own keep-alive connection,
// every few requests one on a fresh connection. A request that a reused connection closed on
// before any byte of an answer (the server closed it idle as the request went out) is retried
// once on a fresh connection, as HTTP clients do for idempotent requests; such retries are counted
// apart, and a fresh connection never gets one. Anything else that is not the expected answer is
// a failure, kept with what happened.
import { RawClient, ConnectionClosedError } from './raw-client.mjs';
import { buildRequest } from './http.mjs';

/**
 * Runs `clients` clients until `ms` pass (each stops after its answer in flight at that time, or
 * after `maxPerClient` requests); with `rampMs`, client n starts n × rampMs after the first. `expect(res)` says whether an answer is right; `seen(res)`, if
 * given, is called with each right one (a test that tallies something of the answers).
 * `freshEvery: 1` opens a connection per request; `freshEvery: Infinity` keeps every client on
 * its keep-alive connection.
 * Returns { ok, failures: [{ how, error | status, body, at }], retries, fresh, reused, pids: Set }.
 */
export async function countedLoad({ port, clients = 4, ms = 3_000, target = '/', freshEvery = 4, maxPerClient = 5_000, rampMs = 0, expect, seen = () => {} }) {
  const result = { ok: 0, failures: [], retries: 0, fresh: 0, reused: 0, pids: new Set() };
  const until = Date.now() + ms;
  await Promise.all(Array.from({ length: clients }, (_, n) => client(n)));
  return result;

  async function client(n) {
    if (rampMs > 0) await new Promise((resolve) => setTimeout(resolve, n * rampMs));
    let conn = null;
    let used = 0; // requests already answered on `conn`
    try {
      for (let i = 0; i < maxPerClient && Date.now() < until; i++) {
        if (Number.isFinite(freshEvery) && (i + n) % freshEvery === 0) {
          await fresh();
          continue;
        }
        if (conn === null) {
          conn = await RawClient.connect(port);
          used = 0;
        }
        const reusing = used > 0;
        let res = await exchange(conn);
        if (res instanceof Error && reusing && unanswered(res)) {
          // The server closed this idle connection as the request went out: retry once, fresh.
          result.retries++;
          conn.close();
          conn = await RawClient.connect(port);
          used = 0;
          res = await exchange(conn);
        }
        if (reusing) result.reused++;
        else result.fresh++;
        if (!record(res, reusing ? 'reused connection' : 'new keep-alive connection')) {
          conn.close();
          conn = null;
          continue;
        }
        used++;
        if (/close/i.test(res.get('connection') ?? '')) {
          conn.close();
          conn = null;
        }
      }
    } finally {
      conn?.close();
    }
  }

  async function fresh() {
    result.fresh++;
    let res;
    try {
      const c = await RawClient.connect(port);
      try {
        res = await exchange(c);
      } finally {
        c.close();
      }
    } catch (err) {
      res = err;
    }
    record(res, 'one-request connection');
  }

  async function exchange(c) {
    try {
      await c.write(buildRequest({ path: target }));
      return await c.readResponse({ timeout: 15_000 });
    } catch (err) {
      return err;
    }
  }

  function record(res, how) {
    if (res instanceof Error) {
      result.failures.push({ how, error: res.message, at: Date.now() });
      return false;
    }
    if (!expect(res)) {
      result.failures.push({ how, status: res.status, body: res.text().slice(0, 200), at: Date.now() });
      return false;
    }
    result.ok++;
    seen(res);
    const pid = res.get('x-worker-pid');
    if (pid) result.pids.add(Number(pid));
    return true;
  }
}

/** Closed (or reset) before any byte of an answer: the request may never have been read. */
function unanswered(err) {
  if (err instanceof ConnectionClosedError) return err.received.length === 0;
  return err.code === 'EPIPE' || err.code === 'ECONNRESET';
}
