// Contract suite: intercom-worker against Stoplight Prism mocking Intercom's
// OpenAPI description. Prism responds 422 to any request that breaks the
// description, so every request the worker sends must come back 2xx.
// Prism cannot produce 404, 409, 429 or 5xx. The fake Intercom covers those,
// except that this suite turns one 202 into a 409 on its way back, so that
// the worker's contact search also goes to Prism.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { PostHog } from 'posthog-node';

import { connectorConfig, startIngest, startWorker, TempDir } from '../lib/connector.mjs';
import { deliveryAttempts, events } from '../lib/queue-db.mjs';
import { specAvailable, specPath, startPrism, writePatchedSpec } from '../lib/prism.mjs';
import { RecordingProxy } from '../lib/recording-proxy.mjs';
import { waitFor, withTimeout } from '../lib/wait.mjs';

const skip = specAvailable()
  ? false
  : `Intercom OpenAPI description not found at ${specPath()}; ` +
    'set INTERCOM_OPENAPI_SPEC to its path to run the contract suite';

const token = 'e2e-test-token';

async function postEvent(baseUrl, body, headers = {}) {
  const response = await fetch(`${baseUrl}/events`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json',
      'intercom-version': '2.11',
      ...headers,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  return { status: response.status, text: await response.text() };
}

describe('Intercom contract', { skip }, () => {
  let dir;
  let prism;
  let proxy;
  const children = [];

  before(async () => {
    dir = new TempDir('contract');
    prism = await startPrism(writePatchedSpec(dir));
    children.push(prism.child);
    proxy = await new RecordingProxy(prism.url).start();
  });

  after(async () => {
    for (const child of children.reverse()) await child.stop();
    await proxy?.stop();
    dir?.remove();
  });

  test('prism enforces the description', async () => {
    const valid = {
      event_name: 'order-completed',
      created_at: 1767225600,
      email: 'ada@example.com',
      metadata: {
        plan: 'pro',
        seats: 12,
        trial: false,
        total: { amount: 34999, currency: 'eur' },
        receipt: { url: 'https://example.org/r/1', value: 'Receipt 1' },
      },
    };
    const accepted = await postEvent(prism.url, valid);
    assert.equal(accepted.status, 202, `valid event rejected: ${accepted.text}`);

    const rejected = [
      ['created_at as a string', { ...valid, created_at: '2026-01-01T00:00:00Z' }],
      ['no identifier', { event_name: 'x', created_at: 1767225600 }],
      ['nested metadata object', { ...valid, metadata: { deep: { a: { b: 1 } } } }],
      ['metadata array', { ...valid, metadata: { tags: ['a', 'b'] } }],
      ['metadata key with $', { ...valid, metadata: { $browser: 'Chrome' } }],
      ['metadata key with a dot', { ...valid, metadata: { 'a.b': 'c' } }],
    ];
    for (const [name, body] of rejected) {
      const answer = await postEvent(prism.url, body);
      assert.equal(answer.status, 422, `${name}: expected 422, got ${answer.status} ${answer.text}`);
    }

    const noToken = await postEvent(prism.url, valid, { authorization: '' });
    assert.equal(noToken.status, 401, 'a request without a token must get 401');
    const badVersion = await postEvent(prism.url, valid, { 'intercom-version': '9.9' });
    assert.equal(badVersion.status, 422, 'an unknown Intercom-Version must get 422');
  });

  test('worker requests pass the contract', { timeout: 120000 }, async () => {
    const config = connectorConfig(dir, {
      intercomUrl: proxy.url,
      overrides: {
        intercom: {
          api_key: token,
          triggering_events: ['$identify', 'order_completed'],
          metadata_properties: ['plan', 'seats', 'trial', 'ratio', 'total', 'receipt',
                                'renewal_date', 'nested', 'tags', 'long_text', '$browser',
                                'dotted.key', 'missing'],
        },
      },
    });
    const ingest = await startIngest(dir, config);
    children.push(ingest.child);
    const worker = await startWorker(dir, config);
    children.push(worker.child);

    // Email alone cannot address a contact whose email several contacts
    // share: Intercom responds 409, and the worker searches /contacts/search.
    // Prism's example search result is empty, so that event then fails.
    proxy.spoil = (exchange) => {
      const email = exchange.path === '/events' ? JSON.parse(exchange.body).email : undefined;
      if (email !== 'shared@example.com') return undefined;
      return { status: 409, body: { type: 'error.list', request_id: 'test-409',
                                    errors: [{ code: 'conflict',
                                               message: 'Multiple existing users match' }] } };
    };

    const client = new PostHog('phc_contract', { host: ingest.url, flushAt: 100, flushInterval: 0 });
    client.identify({ distinctId: 'user-1', properties: { $set: { email: 'ada@example.com' } } });
    client.capture({
      distinctId: 'grace@example.com',
      event: 'order_completed',
      timestamp: new Date('2026-01-15T10:20:30.250Z'),
      properties: {
        plan: 'pro',
        seats: 12,
        trial: false,
        ratio: 0.75,
        total: { amount: 34999, currency: 'eur' },
        receipt: { url: 'https://example.org/r/1', value: 'Receipt 1' },
        renewal_date: 1767225600,
        nested: { level1: { level2: 'deep' } },
        tags: ['a', 'b'],
        long_text: 'x'.repeat(400),
        $browser: 'Chrome',
        'dotted.key': 'dotted',
      },
    });
    client.capture({ distinctId: 'user-2', event: 'order_completed',
                     properties: { email: 'lin@example.com', plan: 'team' } });
    client.capture({ distinctId: 'user-3', event: 'page_viewed', properties: { path: '/' } });
    client.capture({ distinctId: 'user-4', event: 'order_completed',
                     properties: { email: 'shared@example.com' } });
    await withTimeout('posthog-node shutdown', client.shutdown(), 30000);

    const db = config.queue.path;
    const triggering = await waitFor('the four triggering events to be delivered or failed', async () => {
      const rows = (await events(db)).filter((row) => row.event !== 'page_viewed');
      return rows.length === 4 && rows.every((row) => ['delivered', 'failed'].includes(row.state)) &&
             rows;
    }, { timeoutMs: 30000 });

    const sent = proxy.exchanges;
    const rejectedBy = sent.filter((exchange) => exchange.status < 200 || exchange.status >= 300);
    assert.deepEqual(
      rejectedBy.map((exchange) => `${exchange.method} ${exchange.url} -> ${exchange.status}: ` +
                                   `${exchange.body} => ${exchange.responseBody}`),
      [], 'Prism rejected requests from the worker');
    const eventPosts = sent.filter((exchange) => exchange.method === 'POST' &&
                                                 exchange.path === '/events');
    assert.equal(eventPosts.length, 4, 'one POST /events per triggering event');
    const searches = sent.filter((exchange) => exchange.path === '/contacts/search');
    assert.equal(searches.length, 1, 'one contact search, after the 409');
    assert.equal(searches[0].status, 200, `search rejected: ${searches[0].responseBody}`);
    const metadataValues = eventPosts.flatMap(
      (exchange) => Object.values(JSON.parse(exchange.body).metadata ?? {}));
    assert.ok(metadataValues.some((value) => typeof value !== 'string'),
              'the worker sent non-string metadata, which only the patched description allows');
    for (const exchange of eventPosts) {
      assert.equal(exchange.headers.authorization, `Bearer ${token}`);
      assert.match(exchange.headers['content-type'], /^application\/json/);
      assert.match(exchange.headers.accept ?? '', /application\/json/);
    }

    const conflicted = triggering.filter((row) => row.distinct_id === 'user-4');
    assert.deepEqual(conflicted.map((row) => row.state), ['failed']);
    for (const row of triggering.filter((candidate) => candidate.distinct_id !== 'user-4')) {
      assert.equal(row.state, 'delivered', `${row.event} ${row.uuid}: ${row.reason}`);
    }
    const attempts = await deliveryAttempts(db);
    assert.equal(attempts.length, 4, 'one delivery attempt per triggering event');
    for (const attempt of attempts) {
      const expected = attempt.uuid === conflicted[0].uuid ? ['failed', 409] : ['delivered', 202];
      assert.deepEqual([attempt.outcome, attempt.http_status], expected, `attempt for ${attempt.uuid}`);
    }
  });
});
