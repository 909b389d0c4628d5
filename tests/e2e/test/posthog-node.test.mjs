// posthog-node (pinned in package.json) against intercom-ingest, with
// intercom-worker delivering to a fake Intercom.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { PostHog } from 'posthog-node';

import { acceptableCreatedAt, capturedEvents } from '../lib/posthog-wire.mjs';
import { Stack } from '../lib/stack.mjs';
import { withTimeout } from '../lib/wait.mjs';

// A fixed past timestamp; .250 keeps it clear of a second boundary, so the
// expected created_at holds with or without clock-skew correction.
const fixedTime = new Date('2026-01-15T10:20:30.250Z');
const fixedCreatedAt = 1768472430;

describe('posthog-node', () => {
  let stack;
  let rows;

  before(async () => {
    stack = await Stack.start('posthog-node', {
      overrides: { intercom: { triggering_events: ['$identify', 'plan_upgraded'] } },
    });

    const client = new PostHog('phc_node', { host: stack.captureUrl, flushAt: 5, flushInterval: 0 });
    client.capture({ distinctId: 'user-1', event: 'page_viewed', timestamp: fixedTime,
                     properties: { path: '/pricing' } });
    client.identify({ distinctId: 'user-1',
                      properties: { $set: { email: 'ada@example.com', name: 'Ada' } } });
    client.capture({ distinctId: 'user-1', event: 'plan_upgraded', timestamp: fixedTime,
                     properties: { plan: 'pro', $set: { email: 'ada@example.com' } } });
    client.capture({ distinctId: 'grace@example.com', event: 'plan_upgraded',
                     properties: { plan: 'team' } });
    client.capture({ distinctId: 'user-4', event: 'plan_upgraded',
                     properties: { email: 'lin@example.com' } });
    client.capture({ distinctId: 'user-5', event: 'plan_upgraded', properties: { plan: 'free' } });
    client.alias({ distinctId: 'user-1', alias: 'anonymous-1' });
    client.groupIdentify({ groupType: 'company', groupKey: 'acme', distinctId: 'user-1',
                           properties: { name: 'Acme' } });
    await withTimeout('posthog-node shutdown', client.shutdown(), 30000);

    rows = await stack.settled(8);
  });

  after(async () => {
    await stack?.stop();
  });

  test('every event lands once', () => {
    const wire = capturedEvents(stack.proxy.exchanges);
    assert.equal(wire.length, 8, 'posthog-node sent 8 events');
    for (const exchange of stack.proxy.exchanges) {
      assert.equal(exchange.path, '/batch/', `posthog-node posts to /batch/, got ${exchange.url}`);
      assert.equal(exchange.headers['content-encoding'], 'gzip');
      assert.equal(exchange.status, 200, `ingest answered ${exchange.responseBody}`);
    }

    const sentNames = wire.map((captured) => captured.event.event).sort();
    assert.deepEqual(sentNames, ['$create_alias', '$groupidentify', '$identify', 'page_viewed',
                                 'plan_upgraded', 'plan_upgraded', 'plan_upgraded',
                                 'plan_upgraded']);
    assert.deepEqual(rows.map((row) => row.uuid).sort(),
                     wire.map((captured) => captured.event.uuid).sort());
    for (const captured of wire) {
      const row = rows.find((candidate) => candidate.uuid === captured.event.uuid);
      assert.equal(row.event, captured.event.event, `event name of ${row.uuid}`);
      assert.equal(row.distinct_id, captured.event.distinct_id, `distinct_id of ${row.uuid}`);
      assert.equal(row.project_token, 'phc_node', `project token of ${row.uuid}`);
    }
  });

  test('created_at follows timestamp', () => {
    for (const captured of capturedEvents(stack.proxy.exchanges)) {
      const row = rows.find((candidate) => candidate.uuid === captured.event.uuid);
      assert.ok(acceptableCreatedAt(captured).includes(row.created_at),
                `${row.event} ${row.uuid}: created_at ${row.created_at} for timestamp ` +
                `${captured.event.timestamp} sent at ${captured.sentAt}`);
      if (captured.event.timestamp === fixedTime.toISOString()) {
        assert.equal(row.created_at, fixedCreatedAt, `${row.event} ${row.uuid}`);
      }
    }
  });

  test('worker decisions per event', () => {
    const stateOf = (event, distinctId) =>
      rows.filter((row) => row.event === event && row.distinct_id === distinctId)
        .map((row) => [row.state, row.email]);
    assert.deepEqual(stateOf('$identify', 'user-1'), [['delivered', 'ada@example.com']]);
    assert.deepEqual(stateOf('plan_upgraded', 'user-1'), [['delivered', 'ada@example.com']]);
    assert.deepEqual(stateOf('plan_upgraded', 'grace@example.com'),
                     [['delivered', 'grace@example.com']]);
    assert.deepEqual(stateOf('plan_upgraded', 'user-4'), [['delivered', 'lin@example.com']]);
    assert.deepEqual(stateOf('plan_upgraded', 'user-5').map(([state]) => state), ['skipped']);
    for (const event of ['page_viewed', '$create_alias', '$groupidentify']) {
      const states = rows.filter((row) => row.event === event).map((row) => row.state);
      assert.deepEqual(states, ['skipped'], `${event} is not a triggering event`);
    }
  });

  test('intercom receives triggering events by email', () => {
    const received = stack.intercom.events();
    const delivered = rows.filter((row) => row.state === 'delivered');
    assert.equal(received.length, delivered.length,
                 `one POST /events per delivered event:\n${JSON.stringify(received, null, 1)}`);
    for (const row of delivered) {
      const matching = received.filter((body) => body.email === row.email &&
                                                 body.created_at === row.created_at &&
                                                 body.event_name === row.event);
      assert.equal(matching.length, 1,
                   `${row.event} for ${row.email} at ${row.created_at}: ` +
                   `received ${JSON.stringify(received)}`);
      assert.equal(matching[0].id, undefined, 'Intercom contact id must not be set');
    }
    for (const request of stack.intercom.requests) {
      assert.equal(request.headers.authorization, 'Bearer e2e-test-token');
    }
  });

  test('binaries stop cleanly on SIGTERM', async () => {
    assert.equal(await stack.worker.child.stop(), 0, `worker exit code\n${stack.logs()}`);
    assert.equal(await stack.ingest.child.stop(), 0, `ingest exit code\n${stack.logs()}`);
  });
});
