'use strict';
// Finds and loads the vault's .proto files. The API definition lives in the
// repository's proto/ directory; an installed package carries a copy made by
// scripts/copy-proto.js at pack time, so a CRM installing the tarball needs
// nothing else.

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const SERVICE_PROTO = path.join('tokenvault', 'v1', 'tokenvault.proto');
const HEALTH_PROTO = path.join('grpc', 'health', 'v1', 'health.proto');

/** Loaded definitions per proto directory: loading parses files, do it once. */
const cache = new Map();

/**
 * The directories searched for the proto files, in order: the caller's
 * choice, $TOKENVAULT_PROTO_DIR, the copy inside the package, the
 * repository's proto/ (client/node/lib -> ../../../proto).
 * @param {string} [protoDir] explicit directory holding tokenvault/v1/tokenvault.proto.
 * @returns {string[]} candidate directories, absolute.
 */
function candidateDirs(protoDir) {
  if (protoDir) return [path.resolve(protoDir)];
  const dirs = [];
  if (process.env.TOKENVAULT_PROTO_DIR) dirs.push(path.resolve(process.env.TOKENVAULT_PROTO_DIR));
  dirs.push(path.resolve(__dirname, '..', 'proto'));
  dirs.push(path.resolve(__dirname, '..', '..', '..', 'proto'));
  return dirs;
}

/**
 * Finds the directory holding the vault's proto files.
 * @param {string} [protoDir] explicit directory; when given it is the only one tried.
 * @returns {string} the directory.
 * @throws {Error} naming every directory tried when none has the files.
 */
function findProtoDir(protoDir) {
  const dirs = candidateDirs(protoDir);
  for (const dir of dirs) {
    if (fs.existsSync(path.join(dir, SERVICE_PROTO)) && fs.existsSync(path.join(dir, HEALTH_PROTO))) {
      return dir;
    }
  }
  throw new Error(`tokenvault: ${SERVICE_PROTO} and ${HEALTH_PROTO} not found in ${dirs.join(', ')}; ` +
    'pass protoDir or set TOKENVAULT_PROTO_DIR to the repository\'s proto/ directory');
}

/**
 * Loads the TokenVault and Health service definitions.
 * @param {string} [protoDir] see findProtoDir.
 * @returns {{TokenVault: Function, Health: Function, dir: string}} grpc-js
 *   client constructors and the directory they came from.
 */
function loadServices(protoDir) {
  const dir = findProtoDir(protoDir);
  const hit = cache.get(dir);
  if (hit) return hit;
  const definition = protoLoader.loadSync([SERVICE_PROTO, HEALTH_PROTO], {
    includeDirs: [dir],
    keepCase: true, // fields as written in the .proto; the public API maps to camelCase
    longs: Number, // epoch milliseconds and counters stay far below 2^53
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition);
  const services = {
    TokenVault: loaded.tokenvault.v1.TokenVault,
    Health: loaded.grpc.health.v1.Health,
    dir,
  };
  cache.set(dir, services);
  return services;
}

module.exports = { findProtoDir, loadServices };
