// Builds the restore page into one folder of static files, which CMake embeds into safe-server
// (web/CMakeLists.txt). Downloads nothing: it uses the packages `npm ci` installed.
//
//   node build.mjs [--modules DIR/node_modules] --out DIR
//
// Writes index.html, style.css, icon.svg, app.js and worker.js (bundled and minified by
// esbuild, no inline script, no source maps) and licenses.txt (the licence of every npm package
// bundled into them, found from esbuild's list of inputs).

import { createRequire } from 'node:module';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = { modules: path.join(here, 'node_modules'), out: '' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--modules') args.modules = path.resolve(argv[++i]);
    else if (argv[i] === '--out') args.out = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!args.out) throw new Error('--out DIR is required');
  return args;
}

// The package folder an input of the bundle belongs to, or null for our own sources.
function packageDirOf(input, modules) {
  const at = input.lastIndexOf('node_modules/');
  if (at < 0) return null;
  const rest = input.slice(at + 'node_modules/'.length).split('/');
  const name = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  return path.join(modules, name);
}

function licenseText(dir) {
  const meta = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const body = file ? readFileSync(path.join(dir, file), 'utf8').trim() : `License: ${meta.license}`;
  return `${meta.name} ${meta.version} (${meta.license})\n\n${body}\n`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(args.modules, 'esbuild'))) {
    throw new Error(`${args.modules} has no esbuild: run npm ci first`);
  }
  const esbuild = createRequire(path.join(args.modules, 'noop.js'))('esbuild');
  mkdirSync(args.out, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: { app: 'src/app.js', worker: 'src/worker.js' },
    outdir: args.out,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    // DecompressionStream and BigInt: Chrome 80, Firefox 113, Safari 16.4.
    target: ['es2020'],
    minify: true,
    legalComments: 'none', // collected in licenses.txt instead
    nodePaths: [args.modules],
    metafile: true,
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'style.css', 'icon.svg']) {
    copyFileSync(path.join(here, 'src', file), path.join(args.out, file));
  }
  const packages = new Set();
  for (const input of Object.keys(result.metafile.inputs)) {
    const dir = packageDirOf(input, args.modules);
    if (dir) packages.add(dir);
  }
  const licenses = [...packages].sort().map(licenseText);
  writeFileSync(
    path.join(args.out, 'licenses.txt'),
    'The restore page bundles these npm packages, under these licences.\n\n' +
      licenses.join('\n' + '-'.repeat(72) + '\n\n'),
  );
}

main().catch((e) => {
  console.error(`web/build.mjs: ${e.message}`);
  process.exit(1);
});
