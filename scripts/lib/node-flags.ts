// Node's own flags for the processes that run Takedown (npm start, npm run api, npm run worker, the Dockerfile and
// docker-compose.yml, the benchmarks' system under test). test/unit/compose.test.ts checks that each entry point passes them.

/**
 * `--max-semi-space-size=32`: V8's young generation may grow to 32 MB a semi-space instead of 16. Under load, the API's
 * requests (Express, pino-http, the route's work) live for tens of milliseconds while PostgreSQL and the other
 * processes share the cores; with the smaller young generation they outlived two scavenges and were promoted to the
 * old generation: about 2.5 MB a scavenge, a scavenge every ~50 ms, and a full collection every 5 to 7 s. The larger one
 * promotes far less. Measured with `npm run bench -- inbox --quick`, taking turns: the inbox's saturated p99 was 18.0,
 * 18.4 and 28.8 ms with it against 44.4, 70.1, 53.8 and 85.7 ms without (docs/performance-experiments.md). It costs
 * each isolate up to 32 MB more of young generation when busy.
 */
export const RUNTIME_NODE_FLAGS = ['--max-semi-space-size=32'] as const;
