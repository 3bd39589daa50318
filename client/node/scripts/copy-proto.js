'use strict';
// prepack: copies the vault's .proto files into the package (proto/), so an
// installed tarball is self-contained; postpack (--clean) removes the copy
// from the source tree again. The source is $TV_PROTO_DIR or, in a checkout
// of the repository, ../../proto relative to this package.

const fs = require('fs');
const path = require('path');

const FILES = [path.join('tokenvault', 'v1', 'tokenvault.proto'), path.join('grpc', 'health', 'v1', 'health.proto')];
const pkgDir = path.resolve(__dirname, '..');
const dest = path.join(pkgDir, 'proto');

/**
 * Copies FILES from the repository's proto directory into dest.
 * @returns {void}
 * @throws {Error} when a file is missing: packing without the API would ship a broken package.
 */
function copy() {
  const src = path.resolve(process.env.TV_PROTO_DIR || path.join(pkgDir, '..', '..', 'proto'));
  for (const f of FILES) {
    const from = path.join(src, f);
    if (!fs.existsSync(from)) throw new Error(`copy-proto: ${from} not found; set TV_PROTO_DIR to the repository's proto/`);
    fs.mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
    fs.copyFileSync(from, path.join(dest, f));
  }
}

/**
 * Removes the copy made by copy().
 * @returns {void}
 */
function clean() {
  fs.rmSync(dest, { recursive: true, force: true });
}

if (process.argv.includes('--clean')) clean();
else copy();
