// posthog-js, the browser SDK, in a jsdom page against intercom-ingest: the
// two wire forms a browser sends that posthog-node never does.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { browserConfig, loadPosthogJs } from '../lib/browser.mjs';
import { acceptableCreatedAt, capturedEvents } from '../lib/posthog-wire.mjs';
import { Stack } from '../lib/stack.mjs';
import { sleep, waitFor } from '../lib/wait.mjs';

// Waits until the proxy has seen `count` events with responses, and returns
// the captured events whose exchanges match `filter`.
async function waitForWireEvents(stack, count, filter = () => true) {
  try {
    return await waitFor(`${count} events from posthog-js to reach ingest`, () => {
      const answered = stack.proxy.exchanges.filter((exchange) => exchange.status !== undefined);
      const captured = capturedEvents(answered).filter((c) => filter(c.exchange));
      return captured.length >= count && captured;
    }, { timeoutMs: 20000 });
  } catch (error) {
    const seen = stack.proxy.exchanges.map((e) => `${e.method} ${e.url} ${e.headers['content-type']} -> ${e.status}`);
    error.message += `; requests seen: ${JSON.stringify(seen)}`;
    throw error;
  }
}

// Checks that each captured event is one row with the right name, distinct_id
// and created_at, and returns the rows.
async function assertLandedOnce(stack, captured) {
  const uuids = captured.map((c) => c.event.uuid);
  assert.equal(new Set(uuids).size, uuids.length, 'posthog-js sent each uuid once');
  const allRows = await stack.settled(capturedEvents(stack.proxy.exchanges).length);
  const rows = allRows.filter((row) => uuids.includes(row.uuid));
  assert.equal(rows.length, captured.length, 'one row per event sent');
  for (const c of captured) {
    const row = rows.find((candidate) => candidate.uuid === c.event.uuid);
    assert.equal(row.event, c.event.event);
    assert.equal(row.distinct_id, c.event.properties.distinct_id);
    assert.equal(row.project_token, 'phc_browser');
    assert.ok(acceptableCreatedAt(c).includes(row.created_at),
              `${row.event}: created_at ${row.created_at} for timestamp ${c.event.timestamp} ` +
              `sent at ${c.sentAt}`);
  }
  return rows;
}

// Checks that each delivered row reached the fake Intercom once, by email.
function assertDeliveredByEmail(stack, rows, expected) {
  const actual = rows.map((row) => [row.event, row.state, row.email ?? null]).sort();
  assert.deepEqual(actual, expected.sort());
  for (const row of rows.filter((r) => r.state === 'delivered')) {
    const received = stack.intercom.events().filter(
      (body) => body.created_at === row.created_at && body.email === row.email &&
                body.event_name === row.event);
    assert.equal(received.length, 1, `${row.event} for ${row.email}: ` +
                 JSON.stringify(stack.intercom.events()));
  }
}

describe('posthog-js', () => {
  let stack;
  let browser;

  before(async () => {
    stack = await Stack.start('posthog-js', {
      overrides: { intercom: { triggering_events: ['$identify', 'checkout_completed'] } },
    });
    browser = await loadPosthogJs();
  });

  after(async () => {
    await stack?.stop();
  });

  test('gzip body as text/plain', async () => {
    const posthog = new browser.PostHog().init('phc_browser', browserConfig(stack.captureUrl),
                                               'gzip_page');
    posthog.identify('browser-user-1', { email: 'kay@example.com' });
    posthog.capture('checkout_completed', { total: 42 }, { $set: { email: 'kay@example.com' } });
    posthog.capture('page_scrolled', { depth: 80 });

    const captured = await waitForWireEvents(stack, 3);
    for (const { exchange } of captured) {
      assert.match(exchange.path, /^\/(e|i\/v0\/e)\/$/, `posthog-js posted to ${exchange.url}`);
      assert.match(exchange.headers['content-type'], /^text\/plain/);
      assert.equal(exchange.headers['content-encoding'], undefined);
      assert.equal(exchange.body.subarray(0, 2).toString('hex'), '1f8b', 'body is gzip');
      assert.equal(exchange.status, 200, `ingest answered ${exchange.responseBody}`);
    }

    const rows = await assertLandedOnce(stack, captured);
    assertDeliveredByEmail(stack, rows, [
      ['$identify', 'delivered', 'kay@example.com'],
      ['checkout_completed', 'delivered', 'kay@example.com'],
      ['page_scrolled', 'skipped', null],
    ]);
  });

  test('base64 data form on page hide', async () => {
    const posthog = new browser.PostHog().init('phc_browser', browserConfig(stack.captureUrl, {
      disable_compression: true,
      bootstrap: { distinctID: 'browser-user-2' },
    }), 'beacon_page');
    await sleep(300);
    // Plain captures wait in posthog-js's request queue. Closing the tab
    // flushes the queue with sendBeacon, and a beacon without gzip must stay
    // a CORS-simple form body, so posthog-js sends data=<base64> with
    // compression=base64.
    posthog.capture('checkout_completed', { total: 7, email: 'max@example.com' });
    posthog.capture('page_left');
    browser.dom.window.dispatchEvent(new browser.dom.window.Event('pagehide'));
    const isBase64 = (exchange) => exchange.query.get('compression') === 'base64';
    const captured = await waitForWireEvents(stack, 2, isBase64);
    for (const { exchange } of captured) {
      assert.match(exchange.path, /^\/(e|i\/v0\/e)\/$/, `posthog-js posted to ${exchange.url}`);
      assert.equal(exchange.headers['content-type'], 'application/x-www-form-urlencoded');
      assert.ok(exchange.body.toString().startsWith('data='), 'body is a data= form');
      assert.equal(exchange.status, 200, `ingest answered ${exchange.responseBody}`);
    }

    const rows = await assertLandedOnce(stack, captured);
    assertDeliveredByEmail(stack, rows, [
      ['checkout_completed', 'delivered', 'max@example.com'],
      ['page_left', 'skipped', null],
    ]);
  });
});
