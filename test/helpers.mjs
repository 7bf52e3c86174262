// The black-box tests' helpers, all in one import. Each lives in test/lib/ by role; import from
// there in new code:
//   paths.mjs       ROOT, APPS, EXAMPLES, CLI, PYTHON, pythonHas
//   server.mjs      startServer, serverFor, runCli, cliArgs (the real CLI as a child process),
//                   startListening (any server command, unix sockets too), serverLoggingTo
//   lines.mjs       LineCollector (a child's output, waited on line by line)
//   raw-client.mjs  RawClient, ConnectionClosedError (raw HTTP/1.x over one TCP connection)
//   http.mjs        buildRequest, request, rawExchange, getText, unixGet, probe
//   bodies.mjs      chunked, downloadSha
//   process.mjs     rssKb, sampleRss, bootedPids, isAlive, fdsInDir, credentials, childPids (/proc)
//   wait.mjs        sleep, waitUntil
//   load.mjs, counted-load.mjs  keepAliveLoad, countedLoad (bounded load loops; import directly)
//   records.mjs     HOOKS, tempDir, hookRecords, importPids (the hook fixtures' records; import directly)
//   frontends.mjs   title, frontendsOf, workersOf (a --frontends server's process tree; import directly)
//
// Not a test file itself (run.sh runs test/*.test.mjs only). Every wait has a deadline, so a
// broken server fails a test instead of hanging the run.
export * from './lib/paths.mjs';
export * from './lib/server.mjs';
export * from './lib/lines.mjs';
export * from './lib/raw-client.mjs';
export * from './lib/http.mjs';
export * from './lib/bodies.mjs';
export * from './lib/process.mjs';
export * from './lib/wait.mjs';
