'use strict';
// tokenvault: thin, promise-based Node.js client for the tokenvault
// tokenisation vault. See README.md and index.d.ts.

const { Client, SERVER_ITEMS_MAX } = require('./client');
const { ItemError, VaultError } = require('./errors');
const { findProtoDir } = require('./proto');
const grpc = require('@grpc/grpc-js');

/** gRPC status numbers by name (grpc.status), to compare VaultError.code. */
const status = grpc.status;

module.exports = { Client, ItemError, VaultError, status, findProtoDir, SERVER_ITEMS_MAX };
