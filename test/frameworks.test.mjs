// Real frameworks on nodicorn: the Flask and Django examples, real page GETs and form POSTs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { EXAMPLES, pythonHas } from './lib/paths.mjs';
import { serverFor } from './lib/server.mjs';
import { request } from './lib/http.mjs';

const form = (fields) => new URLSearchParams(fields).toString();

test('Flask example', { skip: !pythonHas('flask') && 'flask is not installed for the test python' }, async (t) => {
  const server = await serverFor(t, ['app:app', '--chdir', path.join(EXAMPLES, 'flask_app'), '-w', '1', '--threads', '2']);

  await t.test('GET / renders the HTML page', async () => {
    const res = await request(server.port, { path: '/' });
    assert.equal(res.status, 200);
    assert.match(res.get('content-type'), /^text\/html/);
    assert.match(res.text(), /Hello from Flask on nodicorn/);
  });

  await t.test('GET /api/hello returns JSON', async () => {
    const res = await request(server.port, { path: '/api/hello?name=nodicorn' });
    assert.equal(res.status, 200);
    assert.match(res.get('content-type'), /^application\/json/);
    assert.equal(res.json().greeting, 'Hello, nodicorn!');
  });

  await t.test('POST /guestbook (form) -> 303, the entry shows on the page', async () => {
    const body = form({ name: 'Ada Lovelace', message: 'Première note ✓' });
    const res = await request(server.port, {
      method: 'POST', path: '/guestbook', body, headers: [['Content-Type', 'application/x-www-form-urlencoded']],
    });
    assert.equal(res.status, 303);
    assert.match(res.get('location'), /\/guestbook\?thanks=Ada/);
    const page = await request(server.port, { path: '/guestbook?thanks=Ada+Lovelace' });
    assert.equal(page.status, 200);
    assert.match(page.text(), /Thanks, Ada Lovelace!/);
    assert.match(page.text(), /<b>Ada Lovelace<\/b>: Première note ✓/);
  });

  await t.test('POST /guestbook with an empty field -> 400', async () => {
    const res = await request(server.port, {
      method: 'POST', path: '/guestbook', body: form({ name: '', message: 'x' }),
      headers: [['Content-Type', 'application/x-www-form-urlencoded']],
    });
    assert.equal(res.status, 400);
    assert.match(res.text(), /Both fields are required/);
  });

  await t.test('unknown URL -> 404 page', async () => {
    assert.equal((await request(server.port, { path: '/missing' })).status, 404);
  });
});

test('Django example', { skip: !pythonHas('django') && 'django is not installed for the test python' }, async (t) => {
  const server = await serverFor(t, ['mysite.wsgi:application', '--chdir', path.join(EXAMPLES, 'django_project'), '-w', '2']);

  await t.test('GET / renders the template view', async () => {
    const res = await request(server.port, { path: '/' });
    assert.equal(res.status, 200);
    assert.match(res.text(), /Hello from Django on nodicorn/);
    assert.match(res.get('x-frame-options') ?? '', /DENY/i);
  });

  await t.test('GET the form, POST it back with the CSRF cookie and hidden field', async () => {
    const page = await request(server.port, { path: '/contact/' });
    assert.equal(page.status, 200);
    const cookie = page.getAll('set-cookie').map((c) => /^csrftoken=([^;]+)/.exec(c)).find(Boolean);
    assert.ok(cookie, `csrftoken cookie in ${JSON.stringify(page.getAll('set-cookie'))}`);
    const hidden = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(page.text());
    assert.ok(hidden, 'hidden csrfmiddlewaretoken field');

    const res = await request(server.port, {
      method: 'POST', path: '/contact/',
      body: form({ csrfmiddlewaretoken: hidden[1], name: 'Leopold Bloom', message: 'Hello from Eccles Street' }),
      headers: [['Content-Type', 'application/x-www-form-urlencoded'], ['Cookie', `csrftoken=${cookie[1]}`]],
    });
    assert.equal(res.status, 200, res.text().slice(0, 2000));
    assert.match(res.text(), /Thanks, Leopold Bloom!/);
  });

  await t.test('POST without the CSRF token -> 403', async () => {
    const res = await request(server.port, {
      method: 'POST', path: '/contact/', body: form({ name: 'x', message: 'y' }),
      headers: [['Content-Type', 'application/x-www-form-urlencoded']],
    });
    assert.equal(res.status, 403);
  });

  await t.test('an invalid form re-renders with errors', async () => {
    const page = await request(server.port, { path: '/contact/' });
    const cookie = /^csrftoken=([^;]+)/.exec(page.get('set-cookie'))[1];
    const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(page.text())[1];
    const res = await request(server.port, {
      method: 'POST', path: '/contact/', body: form({ csrfmiddlewaretoken: token, name: '', message: '' }),
      headers: [['Content-Type', 'application/x-www-form-urlencoded'], ['Cookie', `csrftoken=${cookie}`]],
    });
    assert.equal(res.status, 200);
    assert.match(res.text(), /This field is required/);
  });

  await t.test('APPEND_SLASH redirect and the 404 page with DEBUG off', async () => {
    const redirect = await request(server.port, { path: '/contact' });
    assert.equal(redirect.status, 301);
    assert.match(redirect.get('location'), /\/contact\/$/);
    const missing = await request(server.port, { path: '/no/such/page/' });
    assert.equal(missing.status, 404);
    assert.ok(!missing.text().includes('Traceback'), 'no debug page');
  });
});
