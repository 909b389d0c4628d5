// Stoplight Prism as a mock of Intercom's REST API, built from Intercom's
// own OpenAPI description, so the worker's requests are checked against a
// contract that nobody in this project wrote.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { repoRoot } from './connector.mjs';
import { Child } from './processes.mjs';

const prismBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
                              '../node_modules/.bin/prism');

// The OpenAPI file: INTERCOM_OPENAPI_SPEC when set, else the 2.16 description
// in the shared folder beside the repository.
export function specPath() {
  return process.env.INTERCOM_OPENAPI_SPEC ||
    path.resolve(repoRoot, '../shared/intercom-openapi/api.intercom.io.2.16.yaml');
}

export function specAvailable() {
  return existsSync(specPath());
}

const metadataSchemaFromSpec =
  '          additionalProperties:\n' +
  '            type: string\n';

// Intercom's documented metadata values: strings, numbers, booleans, dates as
// Unix seconds (numbers), rich links {url, value} and monetary amounts
// {amount, currency} with the amount an integer in cents. Keys must not
// contain "." or "$". Nested objects and arrays of any other shape are rejected.
const metadataSchemaAsDocumented = `          propertyNames:
            pattern: "^[^.$]+$"
          additionalProperties:
            anyOf:
            - type: string
            - type: number
            - type: boolean
            - type: object
              required: [url, value]
              additionalProperties: false
              properties:
                url:
                  type: string
                value:
                  type: string
            - type: object
              required: [amount, currency]
              additionalProperties: false
              properties:
                amount:
                  type: integer
                currency:
                  type: string
`;

// Returns the spec text with POST /events metadata typed as Intercom's API
// accepts it. The 2.16 description types every metadata value as a string,
// although Intercom takes numbers, booleans, rich links and monetary amounts.
// Throws when the expected text is not found, so a changed spec is noticed
// rather than silently left unpatched.
export function patchMetadataSchema(specText) {
  const schemaStart = specText.indexOf('\n    create_data_event_request:\n');
  if (schemaStart < 0) throw new Error('spec has no components.schemas.create_data_event_request');
  const nextSchema = specText.slice(schemaStart + 1).search(/\n {4}[A-Za-z_]+:\n/);
  const schemaEnd = nextSchema < 0 ? specText.length : schemaStart + 1 + nextSchema;
  const metadataStart = specText.indexOf('\n        metadata:\n', schemaStart);
  const target = specText.indexOf(metadataSchemaFromSpec, metadataStart);
  if (metadataStart < 0 || metadataStart > schemaEnd || target < 0 || target > schemaEnd) {
    throw new Error('create_data_event_request.metadata no longer reads ' +
                    '"additionalProperties: {type: string}"; review the patch in lib/prism.mjs');
  }
  return specText.slice(0, target) + metadataSchemaAsDocumented +
         specText.slice(target + metadataSchemaFromSpec.length);
}

// Writes the patched spec into `dir` and returns its path.
export function writePatchedSpec(dir) {
  const file = dir.file('intercom-openapi-patched.yaml');
  writeFileSync(file, patchMetadataSchema(readFileSync(specPath(), 'utf8')));
  return file;
}

// Starts `prism mock` on a free loopback port and resolves once it listens.
// Returns {child, url}.
export async function startPrism(specFile) {
  const child = new Child('prism', prismBin,
                          ['mock', '--host', '127.0.0.1', '--port', '0', specFile], {
                            env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
                          });
  // Loading the 35,000-line description takes a few seconds on two cores.
  const match = await child.waitForOutput(/Prism is listening on http:\/\/127\.0\.0\.1:(\d+)/, 90000);
  return { child, url: `http://127.0.0.1:${match[1]}` };
}
