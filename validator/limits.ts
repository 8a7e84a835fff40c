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
    /** Largest balance any account may reach (int8 holds 9.2·10^18; this keeps headroom). */
    maxBalance: 2n ** 62n,
    /** Nesting depth of a proposal's JSON. */
    maxDepth: 16,
    /** Legs one proposal may produce (interest accrual pays one leg per holder). */
    maxLegs: 10_000,
    /** Policy patch documents. */
    maxPolicyBytes: 8 * 1024,
  },
  ledger: {
    /** Proposals per write transaction in the batch / group-commit path. */
    maxBatch: 10_000,
    /**
     * A batch with at least this many entries is appended with binary COPY (three round trips
     * in a transaction, ≈6 µs of server time an entry); a smaller one as arrays in one
     * statement (one round trip, ≈17 µs an entry: the server parses every array). See db/commit.ts.
     */
    copyMinEntries: 64,
    /**
     * The writer prepares and decides a batch this many proposals at a time, letting the event
     * loop run between slices (the batch in flight writes its COPY data meanwhile).
     */
    sliceProposals: 500,
    /**
     * The writer's warm cache (db/writer.ts) is dropped and rebuilt after this many batches or
     * once it holds this many actors: rate windows of idle agents are pruned only when read, so
     * an unbounded cache would grow with the ledger.
     */
    cacheMaxBatches: 10_000,
    cacheMaxActors: 100_000,
    /** A registry this small is read whole when the cache is (re)built… */
    cacheWarmActors: 10_000,
    /** …at most once per this many slow batches (mixed workloads drop the cache often). */
    warmReadEvery: 64,
    /** After seeing another writer commit, this many batches take the slow path before the cache is tried again. */
    contendedSlowBatches: 64,
    /** Proposals waiting for the writer before `apply` answers QUEUE_FULL. */
    maxQueue: 10_000,
    /** Rows fetched per page by the artifact caches' replay (db/artifact-replay.ts). */
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
    /** Headers must arrive within this (slowloris); node requires it <= requestTimeoutMs. */
    headersTimeoutMs: 5_000,
    /** An over-limit body is drained (so the client can read the 413) up to this many bytes, then the socket is cut. */
    maxDrainBytes: 1024 * 1024,
    /** /health re-runs the replay dry-run at most this often (a verify reads the whole ledger). */
    healthCacheMs: 5_000,
    /** Actors one credit-reset may touch (each is one mint/burn proposal in one batch). */
    maxAdminActors: 1_000,
    /** Admin `reason` text. */
    maxAdminReasonChars: 500,
  },
  alerts: {
    /** Delivery attempts per (alert, channel) before it is marked failed. */
    maxAttempts: 8,
    baseBackoffMs: 250,
    maxBackoffMs: 30_000,
    /** Alerts claimed per channel per dispatcher round (remote channels). */
    outboxBatch: 20,
    /** The console channel is local and cheap, so it drains faster. */
    consoleBatch: 500,
    /**
     * A claimed delivery is leased for this long; a dispatcher that crashed mid-send loses its
     * claim when the lease expires and another one (or its restart) retries. Must exceed
     * outboxBatch × deliveryTimeoutMs, so a live dispatcher never loses a lease it still works on.
     */
    leaseMs: 5 * 60_000,
    /** One HTTP call to Linear or Discord. */
    deliveryTimeoutMs: 10_000,
    /** A 429 Retry-After up to this long is waited out in place; longer ones reschedule the delivery. */
    maxRateLimitWaitMs: 15_000,
    /** 429s waited out in place within one delivery attempt. */
    maxRateLimitRetries: 3,
    /** New outbox rows are looked for this many ids below the highest already enqueued (late commits). */
    enqueueLookback: 256,
    /** Outbox rows enqueued per channel per round (a channel enabled late catches up gradually). */
    enqueueBatch: 5_000,
    /** Dispatcher poll interval when started as a loop. */
    pollIntervalMs: 500,
    /** Ticket titles and Discord embed text are cut to these lengths. */
    maxTitleChars: 200,
    maxBodyChars: 60_000,
    maxEmbedDescriptionChars: 1_000,
    maxEmbedFieldChars: 256,
    /** Linear team-scoped label ids are cached per process, at most this many. */
    maxCachedLabels: 500,
  },
  hitl: {
    /** Linear's webhook replay window (webhookTimestamp, ms), as @linear/sdk/webhooks enforces it. */
    webhookWindowMs: 60_000,
    /** Delivery ids remembered in memory for fast duplicate answers (the database is the record). */
    maxRememberedDeliveries: 10_000,
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
    /**
     * Memory limit of one QuickJS runtime (each call runs in its own runtime). Caveat measured
     * here (upstream quickjs-emscripten issue #271): in the WASM build QuickJS's own limit
     * counts allocations, not bytes, so big strings / arrays slip past it. The executor also
     * fails a call whose sampled heap exceeds this; the hard byte bound is moduleMemoryBytes.
     */
    memoryBytes: 16 * 1024 * 1024,
    /**
     * Hard cap on the QuickJS module's WebAssembly memory (shared by every runtime in the
     * process, so it bounds a whole call tree): growth past it fails the allocation and the
     * guest sees "out of memory" → MEMORY_LIMIT. Includes ≈6 MB of stack and static data.
     */
    moduleMemoryBytes: 64 * 1024 * 1024,
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
  artifacts: {
    /** Content of a data artifact, UTF-8 bytes (code is bounded by sandbox.maxCodeBytes). */
    maxDataBytes: 64 * 1024,
    maxDescriptionChars: 500,
    /** Actors on an artifact's access allow-list. */
    maxAllowList: 32,
    /** Measured CPU microseconds per unit of the `compute` resource charged for a run (1 unit = 1 ms, rounded up). */
    computeUnitMicros: 1_000,
    /**
     * The sandbox host API is synchronous, the database is not: a run that needs data the host
     * has not loaded yet (an artifact it invokes, a balance, a genesis query) stops, the data is
     * loaded, and the run starts again. At most this many rounds per invoke.
     */
    maxFetchRounds: 16,
    /** An invoke whose run went stale before it was recorded (price, owner or code changed) is re-run at most this often. */
    maxStaleRetries: 2,
    /** Page sizes of genesis:store / genesis:event_log / genesis:escrow. */
    defaultPageSize: 50,
    maxPageSize: 200,
    /** genesis:store.search query text. */
    maxQueryChars: 200,
    /** Artifact contents (immutable, by hash) kept in memory per process, bytes. */
    contentCacheBytes: 16 * 1024 * 1024,
    /** Stored content referenced by no artifact is pruned after this long (a write that was rejected). */
    orphanBlobTtlMs: 60 * 60 * 1000,
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
  agents: {
    /** Proposals one agent may put into one tick's batch; further attempts are dropped and counted. */
    maxAttemptsPerTick: 32,
    /** LLM calls one loop has in flight at once (agents beyond this wait their turn). */
    maxConcurrentLlmCalls: 4,
    /** Output tokens asked of the model for one proposal (the reply is one small JSON object). */
    maxOutputTokens: 1024,
    /** A server-sent RetryInfo delay longer than this is not waited for: the call fails LLM_RATE_LIMITED. */
    maxRetryDelayMs: 60_000,
    /** Open offers and other agents listed in a prompt before trimming for maxPromptBytes. */
    maxOffersInPrompt: 50,
    maxAgentsInPrompt: 50,
  },
  loop: {
    maxTicks: 1_000_000,
    /** Pause between ticks (0 = as fast as possible). */
    maxIntervalMs: 60 * 60 * 1000,
    maxAgents: 1_000,
    /** Simulated milliseconds per tick (one commons period); rate-limit windows are in this time. */
    defaultPeriodMs: 1_000,
    /** Ticks between the breaker's verify (replay dry run); 0 disables it. */
    defaultVerifyEveryTicks: 25,
    /** Longest reason recorded on an automatic breaker trip (the law allows maxReasoningLength). */
    maxTripReasonChars: 1_000,
  },
  bridge: {
    /** The read API tails the ledger, rejections and alerts by id this often (both backends). */
    pollIntervalMs: 200,
    /** Rows read per table per poll; a full page is followed at once by the next (catch-up). */
    tailBatchRows: 1_000,
    /** A rejection/alert id skipped by a poll (a transaction still open) is looked for again this long. */
    holeTtlMs: 30_000,
    /** Skipped ids tracked at once per table; beyond this the oldest are given up. */
    maxHoles: 1_000,
    /** A missing ledger id (the ledger is gap-free) is waited for this long before an alert is raised. */
    ledgerGapAlertMs: 5_000,
    /** SSE comment heartbeat, so proxies and the browser keep an idle stream open. */
    sseHeartbeatMs: 15_000,
    /** Recent ledger rows kept to answer an EventSource reconnect (Last-Event-ID). */
    sseReplayRows: 1_000,
    /** A client whose unsent SSE bytes exceed this is disconnected (it reconnects and resyncs). */
    sseMaxBufferedBytes: 1024 * 1024,
    /** More new ledger rows than this in one poll are announced as one `resync` instead of row by row. */
    sseMaxRowsPerPush: 200,
    /** The replay dry-run behind /api/verification runs at most this often. */
    verifyMinIntervalMs: 30_000,
    /** Metrics buckets of the dashboard's MetricsWindow (10 s × 360 = one hour). */
    metricsBucketMs: 10_000,
    metricsMaxBuckets: 360,
    /** Gini per resource is sampled into its time series at most this often. */
    giniSampleMs: 1_000,
    /** Largest static file (dashboard, uPlot) the bridge will load into memory. */
    maxStaticFileBytes: 2 * 1024 * 1024,
    /** Longest URL (path + query) accepted. */
    maxUrlChars: 2_048,
  },
  n8n: {
    /** Postgres connections one n8n process holds per Grid Database credential (items share them). */
    poolSize: 4,
    /** Distinct databases (url/dataDir × schema) one n8n process keeps open at once. */
    maxConnections: 16,
    /** Grid Trigger interval bounds (seconds). */
    minTriggerIntervalSeconds: 1,
    maxTriggerIntervalSeconds: 24 * 60 * 60,
    /** "Wait for breaker reset": longest wait one node execution may hold, and its poll bounds (seconds). */
    maxWaitSeconds: 24 * 60 * 60,
    minPollSeconds: 0.05,
    maxPollSeconds: 60,
    /** Alerts one Grid Alert execution may deliver per channel (older backlog waits for later runs). */
    maxAlertsPerRun: 200,
    /** Agents one Grid Proposer item may speak for. */
    maxAgentsPerItem: 100,
    /** A `receivedAt` a webhook item may claim, relative to now (seconds): bounds how late an n8n retry may act. */
    maxWebhookItemAgeSeconds: 7 * 24 * 60 * 60,
  },
  replay: {
    /**
     * Rows per COPY statement on PGlite, which hands a COPY's output over as one blob in memory
     * (≈300 bytes a row). Postgres streams one statement for the whole ledger.
     */
    pageRows: 50_000,
    /**
     * Rows that may arrive ahead of their turn when Postgres streams the ledger as stored
     * (db/replay/in-order.ts; each waits as a copy, ≈300 bytes); beyond, replay reads in id order.
     */
    maxEarlyRows: 100_000,
    /** Replay reports progress about this often (rows). */
    progressEveryRows: 100_000,
  },
} as const;

export type Limits = typeof LIMITS;
