// Starts Parse Server for froth's side-by-side benchmark on 127.0.0.1, with its data in PostgreSQL
// reached through a Unix socket. bench/peers/run.sh starts it with node from the install
// directory; it is not a general Parse Server launcher. The storage adapter is built here because
// Parse Server's databaseURI cannot name a socket directory and its databaseOptions reject "host".
//
// Environment: PARSE_BENCH_PORT (HTTP port), PARSE_BENCH_PGHOST (socket directory),
// PARSE_BENCH_PGPORT, PARSE_BENCH_DATABASE, PARSE_BENCH_MASTER_KEY.
'use strict';

const { ParseServer } = require('parse-server');
const { PostgresStorageAdapter } = require('parse-server/lib/Adapters/Storage/Postgres/PostgresStorageAdapter');
const FSFilesAdapter = require('@parse/fs-files-adapter');

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`error: environment variable ${name} is missing; bench/peers/run.sh sets it`);
    process.exit(2);
  }
  return value;
}

const port = Number(required('PARSE_BENCH_PORT'));
const database = required('PARSE_BENCH_DATABASE');

ParseServer.startApp({
  appId: 'bench',
  masterKey: required('PARSE_BENCH_MASTER_KEY'),
  databaseAdapter: new PostgresStorageAdapter({
    uri: `postgres://postgres@localhost/${database}`,
    databaseOptions: {
      host: required('PARSE_BENCH_PGHOST'),
      port: Number(required('PARSE_BENCH_PGPORT')),
    },
  }),
  // Parse Server requires a files adapter beside an explicit database adapter. The benchmark
  // stores no files; this adapter would keep them under files/ in the working directory.
  filesAdapter: new FSFilesAdapter(),
  host: '127.0.0.1',
  port,
  mountPath: '/parse',
  serverURL: `http://127.0.0.1:${port}/parse`,
  // Clients may not create classes or add fields; run.sh creates the schema with the master key.
  allowClientClassCreation: false,
  // Logging off: at any level Parse Server logs each rejected session token as an error with a
  // stack trace, to the console and to files, and froth at --log-level warn logs none of them.
  // A failure to start still reaches stderr through the catch below.
  silent: true,
  logsFolder: null,
}).catch(error => {
  console.error('error: Parse Server did not start:', error);
  process.exit(1);
});
