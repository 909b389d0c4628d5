// Intercom responses that Prism cannot produce (404, 409, 429, 5xx),
// scripted in the fake Intercom, for events that came in through ingest from
// posthog-node. Each email gets one fault and then 202.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { PostHog } from 'posthog-node';

import { deliveryAttempts } from '../lib/queue-db.mjs';
import { Stack } from '../lib/stack.mjs';
import { withTimeout } from '../lib/wait.mjs';

function errorList(code, message) {
  return { type: 'error.list', request_id: `fake-${code}`, errors: [{ code, message }] };
}

function contact(id, role, email) {
  return { type: 'contact', id, role, email, external_id: null };
}

// POST /contacts/search. shared@example.com matches one user and one lead, so
// the user is the contact to address. twins@example.com matches two users, so
// no contact can be chosen.
function searchResponse(query) {
  const email = query?.query?.value;
  const contacts = {
    'shared@example.com': [contact('contact-user-1', 'user', email),
                           contact('contact-lead-2', 'lead', email)],
    'twins@example.com': [contact('contact-user-3', 'user', email),
                          contact('contact-user-4', 'user', email)],
  }[email] ?? [];
  return { status: 200, body: { type: 'list', data: contacts, total_count: contacts.length,
                                pages: { type: 'pages', page: 1, per_page: 50, total_pages: 1 } } };
}

describe('worker against intercom faults', () => {
  let stack;
  let rows;
  let attempts;
  let rateLimitResetS;

  before(async () => {
    stack = await Stack.start('worker-faults', {
      overrides: { worker: { retry_schedule: ['1s', '2s'], contact_missing_schedule: ['1s'] } },
    });

    // The first request for each email gets the scripted fault, later ones 202.
    const seen = new Set();
    stack.intercom.respond = (request) => {
      if (request.path === '/contacts/search') return searchResponse(request.json);
      const email = request.json?.email;
      if (request.path !== '/events' || email === undefined || seen.has(email)) {
        return { status: 202 };
      }
      seen.add(email);
      switch (email) {
        case 'flaky@example.com':
          return { status: 503, body: errorList('service_unavailable', 'Try again later') };
        case 'new@example.com':
          return { status: 404, body: errorList('not_found', 'User Not Found') };
        case 'busy@example.com':
          rateLimitResetS = Math.ceil(Date.now() / 1000) + 1;
          return {
            status: 429,
            headers: { 'X-RateLimit-Limit': '1000', 'X-RateLimit-Remaining': '0',
                       'X-RateLimit-Reset': String(rateLimitResetS) },
            body: errorList('rate_limit_exceeded', 'Too many requests'),
          };
        case 'shared@example.com':
        case 'twins@example.com':
          return { status: 409, body: errorList('conflict', 'Multiple existing users match') };
        default:
          return { status: 202 };
      }
    };

    const client = new PostHog('phc_faults', { host: stack.captureUrl, flushAt: 100, flushInterval: 0 });
    for (const name of ['flaky', 'new', 'busy', 'shared', 'twins']) {
      client.identify({ distinctId: `${name}-user`,
                        properties: { $set: { email: `${name}@example.com` } } });
    }
    await withTimeout('posthog-node shutdown', client.shutdown(), 30000);

    rows = await stack.settled(5, 45000);
    attempts = await deliveryAttempts(stack.db);
  });

  after(async () => {
    await stack?.stop();
  });

  function attemptsFor(email) {
    const row = rows.find((candidate) => candidate.distinct_id === `${email.split('@')[0]}-user`);
    return { row, list: attempts.filter((attempt) => attempt.uuid === row.uuid) };
  }

  function requestsFor(email) {
    return stack.intercom.requests.filter((request) => request.json?.email === email);
  }

  test('5xx is retried with same body', () => {
    const { row, list } = attemptsFor('flaky@example.com');
    assert.equal(row.state, 'delivered', row.reason);
    assert.deepEqual(list.map((a) => [a.outcome, a.http_status]), [['retry', 503], ['delivered', 202]]);
    const [first, second] = requestsFor('flaky@example.com');
    assert.equal(second.body, first.body, 'the retry sends the same created_at and fields');
    assert.ok(second.receivedAtMs - first.receivedAtMs >= 900,
              `retried after ${second.receivedAtMs - first.receivedAtMs} ms; the schedule says 1 s`);
  });

  test('404 waits for the contact', () => {
    const { row, list } = attemptsFor('new@example.com');
    assert.equal(row.state, 'delivered', row.reason);
    assert.deepEqual(list.map((a) => [a.outcome, a.http_status]),
                     [['contact_missing', 404], ['delivered', 202]]);
    assert.equal(list[0].intercom_error_code, 'not_found');
  });

  test('429 waits for the reset', () => {
    const { row, list } = attemptsFor('busy@example.com');
    assert.equal(row.state, 'delivered', row.reason);
    assert.deepEqual(list.map((a) => [a.outcome, a.http_status]),
                     [['rate_limited', 429], ['delivered', 202]]);
    const [, second] = requestsFor('busy@example.com');
    assert.ok(second.receivedAtMs >= rateLimitResetS * 1000 - 100,
              `resent at ${second.receivedAtMs}, before X-RateLimit-Reset ${rateLimitResetS}`);
  });

  test('409 resends to the chosen user', () => {
    const { row, list } = attemptsFor('shared@example.com');
    assert.equal(row.state, 'delivered', row.reason);
    assert.deepEqual(list.map((a) => [a.outcome, a.http_status, a.identifier]),
                     [['failed', 409, 'email'], ['delivered', 202, 'id']]);
    const searches = stack.intercom.requests.filter(
      (request) => request.path === '/contacts/search' &&
                   request.json?.query?.value === 'shared@example.com');
    assert.equal(searches.length, 1, 'one contact search');
    assert.deepEqual(searches[0].json.query, { field: 'email', operator: '=',
                                               value: 'shared@example.com' });
    const resent = stack.intercom.events().filter((body) => body.id === 'contact-user-1');
    assert.equal(resent.length, 1, 'resent once with the user contact id');
    assert.equal(resent[0].email, undefined, 'the resend addresses the contact by id only');
  });

  test('409 without one user fails', () => {
    const { row, list } = attemptsFor('twins@example.com');
    assert.equal(row.state, 'failed');
    assert.deepEqual(list.map((a) => [a.outcome, a.http_status]), [['failed', 409]]);
    assert.equal(list[0].intercom_error_code, 'conflict');
    assert.equal(requestsFor('twins@example.com').length, 1, 'a 409 is not retried');
  });
});
