// Child processes started by the suites: output kept for failure messages,
// startup lines awaited with a timeout, and every child stopped when the test
// process exits, even after a failed assertion.

import { spawn } from 'node:child_process';

import { waitFor } from './wait.mjs';

const running = new Set();

function killAll() {
  for (const child of running) {
    try {
      child.process.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

// A started child with its combined stdout and stderr in `output`.
export class Child {
  constructor(name, command, args, options = {}) {
    this.name = name;
    this.output = '';
    this.exitCode = undefined;
    this.process = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...options,
    });
    const append = (chunk) => {
      this.output += chunk.toString();
    };
    this.process.stdout.on('data', append);
    this.process.stderr.on('data', append);
    this.exited = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        this.exitCode = code ?? signal;
        running.delete(this);
        resolve(this.exitCode);
      });
      this.process.on('error', (error) => {
        this.output += `\nspawn failed: ${error.message}\n`;
        this.exitCode = 'spawn-error';
        running.delete(this);
        resolve(this.exitCode);
      });
    });
    running.add(this);
  }

  // Waits for a line of output matching `pattern` and returns the match.
  // Fails at once, with the output so far, when the child exits first.
  async waitForOutput(pattern, timeoutMs = 15000) {
    try {
      return await waitFor(`${this.name} to print ${pattern}`, () => {
        const match = this.output.match(pattern);
        if (match) return match;
        if (this.exitCode !== undefined) {
          const error = new Error(`${this.name} exited with ${this.exitCode} before printing ${pattern}`);
          error.fatal = true;
          throw error;
        }
        return null;
      }, { timeoutMs, intervalMs: 25 });
    } catch (error) {
      error.message += `\n--- last output of ${this.name} ---\n${this.tail()}`;
      throw error;
    }
  }

  // Returns the last lines of output, for failure messages.
  tail(lines = 40) {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  // Sends SIGTERM, then SIGKILL when the child has not exited after `graceMs`.
  // Returns the exit code (or signal name).
  async stop(graceMs = 10000) {
    if (this.exitCode !== undefined) return this.exitCode;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.exitCode === undefined) this.process.kill('SIGKILL');
    }, graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
