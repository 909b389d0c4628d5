// Reads the queue database with the sqlite3 command-line shell (Debian
// package sqlite3), so the suites need no native Node module.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

import { Child } from './processes.mjs';

const execFileAsync = promisify(execFile);

// Runs one read query and returns its rows as objects. Waits up to 5 s for a
// lock held by ingest or the worker.
export async function query(dbPath, sql) {
  if (!existsSync(dbPath)) throw new Error(`queue database ${dbPath} does not exist yet`);
  const { stdout } = await execFileAsync(
    'sqlite3', ['-json', '-cmd', '.timeout 5000', dbPath, sql], { timeout: 15000 });
  return stdout.trim() === '' ? [] : JSON.parse(stdout);
}

// Returns every row of `events`, oldest first.
export function events(dbPath) {
  return query(dbPath, `SELECT id, uuid, event, distinct_id, project_token, payload,
                               received_at_ms, created_at, state, attempts, email, reason
                        FROM events ORDER BY id`);
}

// Returns every row of `delivery_attempts` with its event's uuid.
export function deliveryAttempts(dbPath) {
  return query(dbPath, `SELECT a.*, e.uuid AS uuid, e.event AS event
                        FROM delivery_attempts a JOIN events e ON e.id = a.event_id
                        ORDER BY a.id`);
}

// A second connection that holds the database's write lock (BEGIN IMMEDIATE)
// until `release()`, to make ingest's writes wait past their busy timeout.
export class WriteLockHolder {
  constructor(dbPath) {
    this.child = new Child('sqlite3 lock holder', 'sqlite3', ['-batch', dbPath]);
  }

  async acquire() {
    this.child.process.stdin.write(
      ".timeout 5000\nBEGIN IMMEDIATE;\nSELECT 'lock' || 'held';\n");
    await this.child.waitForOutput(/lockheld/, 10000);
  }

  async release() {
    if (this.child.exitCode !== undefined) return;
    this.child.process.stdin.end('COMMIT;\n.quit\n');
    await this.child.stop(5000);
  }
}
