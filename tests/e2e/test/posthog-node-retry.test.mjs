// posthog-node resends a batch, with the same uuids, when the response is
// lost, late or a 5xx. The first sending may already be committed, so ingest
// must deduplicate on uuid. A recording proxy between client and ingest spoils
// the first response, but ingest itself still receives every request.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { PostHog } from 'posthog-node';

import { capturedEvents } from '../lib/posthog-wire.mjs';
import { events, WriteLockHolder } from '../lib/queue-db.mjs';
import { Stack } from '../lib/stack.mjs';
import { waitFor, withTimeout } from '../lib/wait.mjs';

// Sends three events in one batch and shuts the client down. Returns the
// proxy's exchanges for this batch, in order.
async function sendBatch(stack, label, clientOptions = {}) {
  const first = stack.proxy.exchanges.length;
  const client = new PostHog('phc_retry', {
    host: stack.captureUrl, flushAt: 100, flushInterval: 0, ...clientOptions,
  });
  for (let i = 1; i <= 3; i++) {
    client.capture({ distinctId: `${label}-user`, event: `${label}_${i}` });
  }
  await withTimeout(`posthog-node shutdown (${label})`, client.shutdown(), 45000);
  return stack.proxy.exchanges.slice(first);
}

function uuidsOf(exchange) {
  return capturedEvents([exchange]).map((captured) => captured.event.uuid);
}

// Checks that the batch was sent again with the same uuids and that each
// uuid is one row. A slow machine may make posthog-node send it a third time,
// which must not add rows either.
async function assertResentWithoutDuplicates(stack, exchanges, label) {
  assert.ok(exchanges.length >= 2, 'posthog-node sends the batch again: ' +
            exchanges.map((e) => `${e.status}->${e.sentStatus}`).join(', '));
  const [firstUuids, ...resentUuids] = exchanges.map(uuidsOf);
  assert.equal(firstUuids.length, 3);
  for (const uuids of resentUuids) {
    assert.deepEqual(uuids, firstUuids, 'a resent batch carries the same uuids');
  }

  const rows = (await events(stack.db)).filter((row) => row.event.startsWith(`${label}_`));
  assert.deepEqual(rows.map((row) => row.uuid).sort(), [...firstUuids].sort(),
                   'each uuid is stored once');
}

describe('posthog-node retries', () => {
  let stack;

  before(async () => {
    stack = await Stack.start('posthog-node-retry', {
      worker: false,
      overrides: { queue: { busy_timeout: '300ms' } },
    });
  });

  after(async () => {
    await stack?.stop();
  });

  test('connection dropped after commit', { timeout: 60000 }, async () => {
    let spoiled = false;
    stack.proxy.spoil = () => {
      if (spoiled) return undefined;
      spoiled = true;
      return { drop: true };
    };
    const exchanges = await sendBatch(stack, 'dropped');
    assert.deepEqual(exchanges.map((e) => e.status), [200, 200], 'ingest answered both sendings');
    await assertResentWithoutDuplicates(stack, exchanges, 'dropped');
  });

  test('503 after commit', { timeout: 60000 }, async () => {
    let spoiled = false;
    stack.proxy.spoil = () => {
      if (spoiled) return undefined;
      spoiled = true;
      return { status: 503 };
    };
    const exchanges = await sendBatch(stack, 'unavailable');
    assert.deepEqual(exchanges.map((e) => e.sentStatus), [503, 200]);
    await assertResentWithoutDuplicates(stack, exchanges, 'unavailable');
  });

  test('answer later than client timeout', { timeout: 60000 }, async () => {
    let spoiled = false;
    stack.proxy.spoil = () => {
      if (spoiled) return undefined;
      spoiled = true;
      return { delayMs: 2500 };
    };
    const exchanges = await sendBatch(stack, 'slow', { requestTimeout: 1000 });
    await assertResentWithoutDuplicates(stack, exchanges, 'slow');
  });

  test('database locked past busy timeout', { timeout: 60000 }, async () => {
    stack.proxy.spoil = () => undefined;
    const lock = new WriteLockHolder(stack.db);
    try {
      await lock.acquire();
      const first = stack.proxy.exchanges.length;
      const sending = sendBatch(stack, 'locked');
      const refused = await waitFor('ingest to answer the batch while the database is locked', () =>
        stack.proxy.exchanges.slice(first).find((exchange) => exchange.status !== undefined),
      { timeoutMs: 15000 });
      assert.equal(refused.status, 503, `ingest answered ${refused.status} ${refused.responseBody}`);
      assert.ok(refused.responseHeaders['retry-after'], 'a 503 carries Retry-After');
      await lock.release();

      const exchanges = await sending;
      assert.deepEqual(exchanges.map((e) => e.status), [503, 200]);
      const rows = (await events(stack.db)).filter((row) => row.event.startsWith('locked_'));
      assert.deepEqual(rows.map((row) => row.uuid).sort(), uuidsOf(exchanges[0]).sort(),
                       'every event stored once after the retry');
    } finally {
      await lock.release();
    }
  });
});
