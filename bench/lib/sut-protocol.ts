// Messages between the benchmark driver and the system-under-test child process.

export interface SutConfig {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  /** The takedown worker (case workflows, real activities) on this queue, from a pre-built bundle. */
  takedown?: { taskQueue: string; bundlePath: string };
  /** The floor worker (bench/floor-workflow.ts, no-op activities) in the same process, on its own queue. */
  floor?: { taskQueue: string; bundlePath: string };
  /** Serve the HTTP API (createApp) on a free port; cases it starts go to `taskQueue`, else takedown.taskQueue. */
  api?: { adminToken: string; taskQueue?: string };
  /** Where the child writes its logs (worker and API warnings and errors). */
  logFile: string;
}

export interface SutMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** V8's heap size limit of the main thread (the SDK sizes its workflow cache from it). */
  heapLimit: number;
  /** Workflows held in the takedown worker's sticky cache. */
  cachedWorkflows: number | null;
  maxCachedWorkflows: number | null;
}

export type SutRequest =
  | { id: number; kind: 'start'; config: SutConfig }
  | { id: number; kind: 'memory' }
  | { id: number; kind: 'profileStart' }
  | { id: number; kind: 'profileStop'; file: string }
  | { id: number; kind: 'activityStats'; reset: boolean }
  | { id: number; kind: 'loopDelay'; reset: boolean }
  | { id: number; kind: 'readFloor'; bodies: Record<string, string> }
  | { id: number; kind: 'stop' };

/** Unsolicited messages from the child: a floor wait is open (see bench/lib/floor-activities.ts). */
export interface SutEvent {
  event: 'ready';
  workflowId: string;
  index: number;
}

/** Execution time of activities inside the worker, by type (` (local)` appended for local activities). */
export type ActivityStats = Record<string, { count: number; totalMs: number; maxMs: number }>;

export type SutResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };

/**
 * The read floor (bench/inbox.ts): servers in the API's process that answer `GET /v1/floor/<name>` with fixed bytes and do
 * nothing else. node: Node's http module alone; express: Express with no middleware; api: the API's own app and
 * middleware (apiApp) with that one route instead of its routers, so the request is authenticated, logged and counted.
 */
export interface ReadFloorUrls {
  node: string;
  express: string;
  api: string;
}

export interface SutStarted {
  apiUrl: string | null;
  pid: number;
  poolMax: number;
  /** Thread ids (/proc/<pid>/task) of the Node worker threads the Temporal workers run workflow code in. */
  workflowThreads: number[];
}

/**
 * Event-loop delay of the child's main thread, in milliseconds: how late a timer due every 10 ms fired
 * (perf_hooks.monitorEventLoopDelay, whose histogram holds the whole intervals, less those 10 ms).
 */
export interface LoopDelay {
  mean: number;
  p50: number;
  p99: number;
  max: number;
  /** Share of wall time the main thread's event loop was busy (performance.eventLoopUtilization). */
  utilization: number;
}
