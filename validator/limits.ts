/**
 * Every limit in the system, in one place (pg-boss style `POLICY` object).
 *
 * Why one file: a limit that lives next to the code that enforces it is easy to change by
 * accident and hard to audit. The law (validator) owns the limits that decide whether a
 * proposal is acceptable; the engine, sandbox and services import theirs from here too, so an
 * operator reads one file to learn every bound the system enforces.
 *
 * All amounts are bigint. Time is in milliseconds, sizes in bytes.
 */
export const LIMITS = {
  proposal: {
    /** Largest serialized proposal accepted anywhere (HTTP body, n8n item, CLI file). */
    maxBytes: 16 * 1024,
    /** Actor and resource ids: short, printable, no whitespace. */
    maxIdLength: 64,
    /** The free-text `reasoning` an agent attaches to a proposal. */
    maxReasoningLength: 2000,
    /** Largest absolute amount a proposal may name (fits comfortably in int8). */
    maxAmount: 10n ** 15n,
    /** Legs one proposal may produce (interest accrual pays one leg per holder). */
    maxLegs: 10_000,
    /** Policy patch documents. */
    maxPolicyBytes: 8 * 1024,
  },
  ledger: {
    /** Proposals per write transaction in the batch / group-commit path. */
    maxBatch: 1000,
    /** Proposals waiting for the writer before `apply` answers QUEUE_FULL. */
    maxQueue: 10_000,
    /** Rows fetched per page by replay / verify. */
    replayPageRows: 50_000,
    /** Retries of a transaction that failed with a serialization or deadlock error. */
    maxTxRetries: 5,
  },
  rate: {
    /** Upper bound a human may set for a per-actor rolling window. */
    maxWindowMs: 24 * 60 * 60 * 1000,
    maxActionsPerWindow: 1_000_000,
  },
  http: {
    maxBodyBytes: 64 * 1024,
    maxPageSize: 500,
    defaultPageSize: 100,
    maxSseClients: 100,
    requestTimeoutMs: 10_000,
  },
  alerts: {
    maxAttempts: 8,
    baseBackoffMs: 250,
    maxBackoffMs: 30_000,
    outboxBatch: 50,
  },
  llm: {
    maxAttempts: 4,
    baseBackoffMs: 200,
    maxBackoffMs: 8_000,
    requestTimeoutMs: 30_000,
    maxPromptBytes: 32 * 1024,
  },
  sandbox: {
    /**
     * Wall-clock deadline for one top-level call INCLUDING every nested invoke (one deadline per
     * call tree, checked by the QuickJS interrupt handler). Single-threaded, so wall ≈ CPU.
     */
    cpuDeadlineMs: 200,
    /** Memory limit of one QuickJS runtime (each call runs in its own runtime). */
    memoryBytes: 16 * 1024 * 1024,
    /**
     * Memory budget of a whole call tree: a nested runtime gets min(memoryBytes, this minus
     * what its ancestors were using when they called invoke). Bounds a fan of nested bombs.
     */
    treeMemoryBytes: 32 * 1024 * 1024,
    /** Below this much remaining tree budget a nested invoke fails with MEMORY_LIMIT up front. */
    minNestedMemoryBytes: 1024 * 1024,
    /**
     * QuickJS stack limit of the top-level call. Measured (FIELD-NOTES "Sandboxes"): QuickJS
     * counts only its shadow stack in WASM linear memory, but the same recursion also uses V8's
     * native stack (984 KB on the main thread) at 1.6–3.6× the shadow bytes. 512 KB overflowed
     * V8 first, which unwinds through WASM frames and aborts the module; 256 KB was the largest
     * safe single level. Nested runtimes stack on the same native stack, so the sum over a full
     * chain (64 + 5 × 16 = 144 KB, ≤ ~520 KB native) leaves room for the host's own frames.
     */
    stackBytes: 64 * 1024,
    /** QuickJS stack limit of each nested (invoked) call; see stackBytes. */
    nestedStackBytes: 16 * 1024,
    /** JSON-serialized result, in UTF-8 bytes. */
    maxOutputBytes: 64 * 1024,
    /** JSON-serialized arguments of one call, in UTF-8 bytes. */
    maxArgsBytes: 16 * 1024,
    /** Top-level call is depth 0; invoke() from depth maxInvokeDepth fails with DEPTH_EXCEEDED. */
    maxInvokeDepth: 5,
    /** Calls (top-level + every nested invoke, genesis included) in one call tree. */
    maxCallsPerTree: 64,
    /** Payments (pay, invoke prices, genesis movements) journaled by one call tree. */
    maxPaymentsPerTree: 256,
    /** Artifact source, in UTF-8 bytes. */
    maxCodeBytes: 64 * 1024,
    /** The artifact's `interface` JSON, in UTF-8 bytes, and tools it may declare. */
    maxInterfaceBytes: 16 * 1024,
    maxInterfaceTools: 64,
    /** The world() snapshot handed to guest code, JSON, in UTF-8 bytes. */
    maxWorldBytes: 256 * 1024,
    /** Guest error messages copied into responses are cut to this many characters. */
    maxErrorMessageChars: 500,
    /** Disk quota per owner for artifact content, in bytes. */
    diskQuotaBytes: 1024 * 1024,
  },
  telemetry: {
    /** Metrics bucket width: default one minute, allowed 1 s .. 24 h. */
    defaultBucketMs: 60_000,
    minBucketMs: 1_000,
    maxBucketMs: 24 * 60 * 60 * 1000,
    /** Buckets a window keeps (older ones are evicted; balances are still folded). */
    defaultMaxBuckets: 60,
    maxBuckets: 10_080,
    maxActors: 100_000,
    maxResources: 1_000,
    /** Further codes in one bucket are counted under _OTHER. */
    maxRejectionCodesPerBucket: 64,
    maxInvokeEvents: 1_000_000,
    maxArtifacts: 100_000,
    maxCyclesReported: 100,
  },
} as const;

export type Limits = typeof LIMITS;
