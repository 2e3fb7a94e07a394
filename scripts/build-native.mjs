// Builds the native addon (sendfile, mmap) at install time. A failed build is not fatal: Sluice
// then runs on its pure-JS fallbacks and says so in its start-up log.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const args = ['rebuild'];
// Build against the running Node's own headers when they are installed beside it, so no
// header download is needed (there is no network but the package registries).
const prefix = dirname(dirname(process.execPath));
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node.h'))) args.push(`--nodedir=${prefix}`);

const result = spawnSync('node-gyp', args, { cwd: nativeDir, stdio: 'inherit', shell: process.platform === 'win32' });
if (result.status !== 0) {
  console.warn('sluice: the native addon did not build; sendfile and mmap fall back to pure JS.');
}
