// Regenerates src/protocol/generated from Kafka's JSON specs (../shared/kafka-protocol, or the
// folder given as the first argument), removing generated files whose spec is gone.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { generateAll } from '../src/protocol/codegen/generate.js';
import { loadSpecs } from '../src/protocol/codegen/spec-model.js';
import { GENERATED_DIR, defaultSpecDir } from '../src/protocol/codegen/locations.js';

const specDir = process.argv[2] ?? defaultSpecDir();
const files = generateAll(loadSpecs(specDir));

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(GENERATED_DIR, join(e.parentPath, e.name)));
}

mkdirSync(GENERATED_DIR, { recursive: true });
for (const stale of listTs(GENERATED_DIR).filter((f) => !files.has(f))) rmSync(join(GENERATED_DIR, stale));
for (const [path, text] of files) {
  const full = join(GENERATED_DIR, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
}
console.log(`wrote ${files.size} files to ${relative(process.cwd(), GENERATED_DIR)} from ${specDir}`);
