// Starts the product under test: intercom-ingest and intercom-worker from the
// build directory, each with a TOML configuration written into a temporary
// directory that the suite owns.

import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Child } from './processes.mjs';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// Returns the absolute path of a built binary, from BUILD_DIR (relative to the
// repository root unless absolute; default "build"). Throws naming the path
// and the build command when it is missing.
export function binaryPath(name) {
  const buildDir = path.resolve(repoRoot, process.env.BUILD_DIR || 'build');
  const subdir = name === 'intercom-ingest' ? 'ingest' : 'worker';
  const file = path.join(buildDir, subdir, name);
  try {
    accessSync(file, constants.X_OK);
  } catch {
    throw new Error(`${file} is missing or not executable; build it with ` +
                    `"cmake -S . -B ${buildDir} && cmake --build ${buildDir}" or set BUILD_DIR`);
  }
  return file;
}

// A temporary directory removed by `remove()`; kept when E2E_KEEP_TMP=1 so a
// failed run's database and logs can be inspected.
export class TempDir {
  constructor(prefix) {
    this.path = mkdtempSync(path.join(tmpdir(), `intercom-e2e-${prefix}-`));
  }

  file(name) {
    return path.join(this.path, name);
  }

  remove() {
    if (process.env.E2E_KEEP_TMP === '1') {
      console.log(`# kept ${this.path}`);
      return;
    }
    rmSync(this.path, { recursive: true, force: true });
  }
}

function tomlValue(value) {
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

// Renders {section: {key: value}} as TOML. Strings are written with JSON
// escapes, which TOML basic strings share for the characters used here.
export function toToml(sections) {
  const lines = [];
  for (const [section, keys] of Object.entries(sections)) {
    lines.push(`[${section}]`);
    for (const [key, value] of Object.entries(keys)) {
      if (value !== undefined) lines.push(`${key} = ${tomlValue(value)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

// The environment for the binaries: the suite's own, without the variable
// that would replace the configured Intercom token.
function childEnvironment() {
  const env = { ...process.env };
  delete env.INTERCOM_API_KEY;
  return env;
}

// Settings shared by ingest and worker runs of one test: the queue file and
// the Intercom side. `overrides` is merged section by section.
export function connectorConfig(dir, { intercomUrl, overrides = {} } = {}) {
  const config = {
    queue: { path: dir.file('queue.db'), busy_timeout: '2s' },
    ingest: { listen: '127.0.0.1:0', threads: 4, metrics_listen: '127.0.0.1:0' },
    intercom: {
      api_key: 'e2e-test-token',
      base_url: intercomUrl,
      triggering_events: ['$identify'],
      request_timeout: '5s',
      connect_timeout: '2s',
    },
    worker: {
      concurrency: 2,
      retry_schedule: ['1s', '2s'],
      contact_missing_schedule: ['1s'],
      jitter: 0,
      idle_poll: '20ms',
      metrics_listen: '127.0.0.1:0',
      dry_run_file: dir.file('dry-run.ndjson'),
    },
  };
  for (const [section, keys] of Object.entries(overrides)) {
    config[section] = { ...config[section], ...keys };
  }
  return config;
}

// Starts intercom-ingest and resolves once it logs its listen address.
// Returns {child, url, port}.
export async function startIngest(dir, config) {
  const configFile = dir.file('ingest.toml');
  writeFileSync(configFile, toToml(config));
  const child = new Child('intercom-ingest', binaryPath('intercom-ingest'),
                          ['--config', configFile], { env: childEnvironment() });
  const match = await child.waitForOutput(/msg=listening\b.*\baddress=127\.0\.0\.1:(\d+)/);
  const port = Number(match[1]);
  return { child, port, url: `http://127.0.0.1:${port}` };
}

// Starts intercom-worker. It prints no address, so callers wait on the
// database or on the Intercom side for its effects.
export async function startWorker(dir, config) {
  const configFile = dir.file('worker.toml');
  writeFileSync(configFile, toToml(config));
  const child = new Child('intercom-worker', binaryPath('intercom-worker'),
                          ['--config', configFile], { env: childEnvironment() });
  // A bad configuration exits at once; give it a moment to do so, so the
  // error shows here rather than as a missing delivery later.
  await new Promise((resolve) => setTimeout(resolve, 200));
  if (child.exitCode !== undefined) {
    throw new Error(`intercom-worker exited with ${child.exitCode} at start:\n${child.tail()}`);
  }
  return { child };
}
