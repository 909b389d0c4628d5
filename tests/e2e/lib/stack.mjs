// The whole product wired for a test: a fake Intercom, intercom-worker
// sending to it, intercom-ingest, and a recording proxy in front of ingest
// that the PostHog clients talk to.

import { connectorConfig, startIngest, startWorker, TempDir } from './connector.mjs';
import { FakeIntercom } from './fake-intercom.mjs';
import { events } from './queue-db.mjs';
import { RecordingProxy } from './recording-proxy.mjs';
import { waitFor } from './wait.mjs';

export class Stack {
  // `overrides`: configuration sections merged over connectorConfig's.
  // `worker`: false to run ingest alone.
  static async start(name, { overrides = {}, worker = true } = {}) {
    const stack = new Stack();
    try {
      stack.dir = new TempDir(name);
      stack.intercom = await new FakeIntercom().start();
      stack.config = connectorConfig(stack.dir, { intercomUrl: stack.intercom.url, overrides });
      stack.db = stack.config.queue.path;
      stack.ingest = await startIngest(stack.dir, stack.config);
      stack.proxy = await new RecordingProxy(stack.ingest.url).start();
      if (worker) stack.worker = await startWorker(stack.dir, stack.config);
      return stack;
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }

  // The URL PostHog clients use: the proxy in front of ingest.
  get captureUrl() {
    return this.proxy.url;
  }

  // Waits until the queue holds `count` events and none is pending or
  // leased, and returns the rows.
  async settled(count, timeoutMs = 30000) {
    return waitFor(`${count} events in the queue, all finished by the worker`, async () => {
      const rows = await events(this.db);
      if (rows.length !== count) return null;
      return rows.every((row) => row.state !== 'pending' && row.state !== 'leased') && rows;
    }, { timeoutMs, intervalMs: 100 });
  }

  // Returns the last output of both binaries, for failure messages.
  logs() {
    return `--- intercom-ingest ---\n${this.ingest?.child.tail() ?? ''}\n` +
           `--- intercom-worker ---\n${this.worker?.child.tail() ?? ''}`;
  }

  // Stops everything this stack started; safe after a partial start.
  async stop() {
    await this.worker?.child.stop();
    await this.ingest?.child.stop();
    await this.proxy?.stop();
    await this.intercom?.stop();
    this.dir?.remove();
  }
}
