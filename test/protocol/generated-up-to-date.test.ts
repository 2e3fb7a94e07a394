import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { generateAll } from '../../src/protocol/codegen/generate.js';
import { GENERATED_DIR } from '../../src/protocol/codegen/locations.js';
import { specsOrExplain } from '../support/specs.js';

test('the committed generated code matches what the generator writes from the specs', (t) => {
  const specs = specsOrExplain(t);
  if (!specs) return;
  const expected = generateAll(specs);
  const onDisk = readdirSync(GENERATED_DIR, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(GENERATED_DIR, join(e.parentPath, e.name)))
    .sort();
  assert.deepEqual(onDisk, [...expected.keys()].sort(), 'generated files differ: run npm run gen:protocol');
  for (const [path, text] of expected) {
    assert.ok(readFileSync(join(GENERATED_DIR, path), 'utf8') === text, `${path} is stale: run npm run gen:protocol`);
  }
});
