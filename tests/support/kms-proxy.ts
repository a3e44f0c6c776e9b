// A loopback HTTP proxy between the AWS SDK and moto's KMS server that makes moto behave more like AWS KMS:
//   - counts calls per operation (callLog, calls()),
//   - enforces KMS key-state rules that moto does not (KMSInvalidStateException),
//   - lets tests pretend a key is in a state moto cannot produce (overrideKeyState),
//   - injects faults (throttling, 5xx, connection resets before/after the operation, delays, access denied),
//   - applies per-operation request quotas like KMS does: a token bucket per operation (AWS_KMS_QUOTAS).
// Only Node built-ins. Requests are the KMS JSON protocol: POST /, X-Amz-Target: TrentService.<Operation>, JSON body.
import * as http from "node:http";
import * as net from "node:net";
import { randomUUID } from "node:crypto";

export type FaultKind =
  | "throttle"
  | "internal"
  | "dependencyTimeout"
  | "unavailable"
  | "resetBefore"
  | "resetAfter"
  | "delay"
  | "accessDenied";

export interface FaultRule {
  /** KMS operation name, e.g. "CreateKey"; undefined = every operation. */
  operation?: string;
  kind: FaultKind;
  /** Apply to the next N matching calls; default unlimited. */
  times?: number;
  /** 0..1, default 1. Drawn from the proxy's seeded PRNG. */
  probability?: number;
  /** For "delay". */
  delayMs?: number;
  /** Only requests for this key (key ID, or key ARN: compared by the part after "key/"; aliases compared as given). */
  keyId?: string;
}

export interface ProxyOptions {
  /** moto endpoint, e.g. http://127.0.0.1:5000; startKmsServerWithProxy fills it. */
  target?: string;
  /** Refuse operations in key states where AWS KMS would (default true). */
  enforceKeyStates?: boolean;
  /** Seed for the PRNG behind FaultRule.probability (default 1). */
  seed?: number;
  /** Default per-operation quota (requests per second); see setQuota. */
  quotaPerSecond?: number;
  /** Requests per second by operation, e.g. AWS_KMS_QUOTAS; see setQuotas. */
  quotas?: Readonly<Record<string, number>>;
}

/**
 * AWS KMS's default request quotas per account and Region, in requests per second, for the operations this provider
 * and its tests use (KMS developer guide, "Request quotas"). Each operation's quota is independent of the others.
 */
export const AWS_KMS_QUOTAS: Readonly<Record<string, number>> = {
  CancelKeyDeletion: 5,
  CreateKey: 5,
  EnableKey: 5,
  DisableKey: 5,
  DisableKeyRotation: 5,
  UntagResource: 5,
  UpdateKeyDescription: 5,
  TagResource: 10,
  EnableKeyRotation: 15,
  PutKeyPolicy: 15,
  ScheduleKeyDeletion: 15,
  ListKeys: 500,
  GetKeyPolicy: 1000,
  GetKeyRotationStatus: 1000,
  DescribeKey: 2000,
  ListResourceTags: 2000,
};

/** One operation's quota: a bucket of at most one second's requests, refilled continuously at the quota's rate. */
interface TokenBucket {
  perSecond: number;
  tokens: number;
  refilledAt: number;
}

export interface CallLogEntry {
  operation: string;
  keyId?: string;
  /** HTTP status sent to the client, or "reset" if the connection was destroyed instead. */
  status: number | "reset";
  /** The injected fault kind that applied, or "quota" when the request-rate quota refused it. */
  fault?: string;
  /** Arrival time (Date.now()). */
  at: number;
  /** __type of the error response, if any (from moto or from the proxy, e.g. "KMSInvalidStateException"). */
  error?: string;
}

const JSON_CT = "application/x-amz-json-1.1";
const TARGET_PREFIX = "TrentService.";
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "content-length",
]);

// ---- key-state rules (AWS KMS "Key states of AWS KMS keys") ----

const ONLY_ENABLED = ["Enabled"];
const MUTABLE = ["Enabled", "Disabled", "PendingImport"];
const STATE_RULES: Record<string, readonly string[]> = {
  CancelKeyDeletion: ["PendingDeletion", "PendingReplicaDeletion"],
  EnableKey: ["Enabled", "Disabled"],
  DisableKey: ["Enabled", "Disabled"],
  EnableKeyRotation: ONLY_ENABLED,
  DisableKeyRotation: ONLY_ENABLED,
  PutKeyPolicy: MUTABLE,
  TagResource: MUTABLE,
  UntagResource: MUTABLE,
  UpdateKeyDescription: MUTABLE,
  ScheduleKeyDeletion: MUTABLE,
  Encrypt: ONLY_ENABLED,
  Decrypt: ONLY_ENABLED,
  GenerateDataKey: ONLY_ENABLED,
  GenerateDataKeyWithoutPlaintext: ONLY_ENABLED,
  GenerateDataKeyPair: ONLY_ENABLED,
  GenerateDataKeyPairWithoutPlaintext: ONLY_ENABLED,
  ReEncrypt: ONLY_ENABLED,
  Sign: ONLY_ENABLED,
  Verify: ONLY_ENABLED,
  GenerateMac: ONLY_ENABLED,
  VerifyMac: ONLY_ENABLED,
  // Always allowed (listed for documentation; no lookup is made): DescribeKey, GetKeyPolicy, GetKeyRotationStatus,
  // ListResourceTags, ListKeyPolicies, ListAliases, ListKeys, CreateKey. Operations not listed are not checked.
};

/** The request fields that name a key whose state the operation depends on. */
function stateCheckedKeyIds(operation: string, body: Record<string, unknown>): string[] {
  const fields = operation === "ReEncrypt" ? ["SourceKeyId", "DestinationKeyId"] : ["KeyId"];
  return fields.map((f) => body[f]).filter((v): v is string => typeof v === "string" && v.length > 0);
}

/** "arn:...:key/<id>" -> "<id>"; anything else unchanged. */
function normalizeKeyId(keyId: string): string {
  const i = keyId.indexOf("key/");
  return i >= 0 && keyId.startsWith("arn:") ? keyId.slice(i + 4) : keyId;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ActiveRule {
  rule: FaultRule;
  remaining: number; // Infinity when unlimited
}

interface Outcome {
  status: number;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

function jsonError(status: number, type: string, message: string, extra: http.OutgoingHttpHeaders = {}): Outcome {
  return {
    status,
    headers: { "content-type": JSON_CT, "x-amzn-requestid": randomUUID(), ...extra },
    body: Buffer.from(JSON.stringify({ __type: type, message })),
  };
}

function errorType(outcome: Outcome): string | undefined {
  if (outcome.status < 400) return undefined;
  try {
    const t = (JSON.parse(outcome.body.toString("utf8")) as { __type?: unknown }).__type;
    if (typeof t === "string") return t.includes("#") ? t.slice(t.indexOf("#") + 1) : t;
  } catch {
    // not JSON
  }
  return undefined;
}

function readBody(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
    stream.on("aborted", () => reject(new Error("request aborted")));
  });
}

export class KmsProxy {
  /** Every request received, in completion order (each with its arrival time). */
  readonly callLog: CallLogEntry[] = [];

  private readonly target: URL;
  private readonly enforceKeyStates: boolean;
  private readonly random: () => number;
  private readonly rules: ActiveRule[] = [];
  private readonly applied: Record<string, number> = {};
  private readonly overrides = new Map<string, string>();
  private readonly quotas = new Map<string, number>();
  private defaultQuota: number | undefined;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly upstreamAgent = new http.Agent({ keepAlive: false });
  private stopped = false;

  private readonly server: http.Server;
  private port = 0;

  private constructor(opts: ProxyOptions & { target: string }) {
    this.target = new URL(opts.target);
    this.enforceKeyStates = opts.enforceKeyStates ?? true;
    this.random = mulberry32(opts.seed ?? 1);
    this.defaultQuota = opts.quotaPerSecond;
    if (opts.quotas) this.setQuotas(opts.quotas);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // Last resort: never let a handler error crash the test process.
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(502, { "content-type": "text/plain" });
          res.end(`KmsProxy error: ${err instanceof Error ? err.message : String(err)}`);
        }
      });
    });
    // The SDK keeps connections alive without an idle timeout of its own; closing idle sockets after Node's default
    // 5 s would race with reuse and give spurious ECONNRESETs. stop() destroys whatever is still open.
    this.server.keepAliveTimeout = 10 * 60_000;
    this.server.on("connection", (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    this.server.on("clientError", (_err, socket) => socket.destroy());
  }

  /** http://127.0.0.1:PORT */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(opts: ProxyOptions): Promise<KmsProxy> {
    const target = opts.target;
    if (!target) throw new Error("KmsProxy.start: opts.target (the moto endpoint) is required");
    const proxy = new KmsProxy({ ...opts, target });
    const server = proxy.server;
    proxy.port = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        const addr = server.address();
        resolve(typeof addr === "object" && addr ? addr.port : 0);
      });
    });
    return proxy;
  }

  /** Closes the server, destroys every open socket and cancels pending delays. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.server.closeAllConnections();
    this.upstreamAgent.destroy();
    await closed;
  }

  // ---- counting ----

  /** Number of requests received (all operations, or one), including faulted and refused ones. */
  calls(operation?: string): number {
    if (operation === undefined) return this.callLog.length;
    return this.callLog.filter((e) => e.operation === operation).length;
  }

  /** Clears callLog and faultsApplied() (not faults, overrides or quota buckets). */
  resetCounts(): void {
    this.callLog.length = 0;
    for (const k of Object.keys(this.applied)) delete this.applied[k];
  }

  /** How often each fault kind (and "quota") has been applied since start / resetCounts(). */
  faultsApplied(): Record<string, number> {
    return { ...this.applied };
  }

  // ---- key-state overrides ----

  /**
   * While set, DescribeKey reports `state` for this key (KeyMetadata.Enabled = state === "Enabled") and the key-state
   * rules use it. `keyId` is a key ID or key ARN; undefined clears the override.
   */
  overrideKeyState(keyId: string, state: string | undefined): void {
    const id = normalizeKeyId(keyId);
    if (state === undefined) this.overrides.delete(id);
    else this.overrides.set(id, state);
  }

  // ---- faults ----

  addFault(rule: FaultRule): void {
    this.rules.push({ rule: { ...rule }, remaining: rule.times ?? Infinity });
  }

  clearFaults(): void {
    this.rules.length = 0;
  }

  // ---- quotas ----

  /**
   * Requests per second for `operation`, or the default for every operation without its own quota when `operation`
   * is omitted. Each operation has its own token bucket, starting full. undefined removes the quota.
   */
  setQuota(perSecond: number | undefined, operation?: string): void {
    if (operation === undefined) this.defaultQuota = perSecond;
    else if (perSecond === undefined) this.quotas.delete(operation);
    else this.quotas.set(operation, perSecond);
    // A changed quota starts with a full bucket (for one operation, or for all when the default changed).
    if (operation === undefined) this.buckets.clear();
    else this.buckets.delete(operation);
  }

  /** Replaces every per-operation quota with `table` (e.g. AWS_KMS_QUOTAS); {} removes them. The default is kept. */
  setQuotas(table: Readonly<Record<string, number>>): void {
    this.quotas.clear();
    this.buckets.clear();
    for (const [operation, perSecond] of Object.entries(table)) this.quotas.set(operation, perSecond);
  }

  // ---- request handling ----

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = Date.now();
    let reqBody: Buffer;
    try {
      reqBody = await readBody(req);
    } catch {
      req.socket.destroy();
      return;
    }

    const targetHeader = req.headers["x-amz-target"];
    const target = Array.isArray(targetHeader) ? targetHeader[0] : targetHeader;
    const isKms = typeof target === "string" && target.startsWith(TARGET_PREFIX);
    const operation = isKms ? target.slice(TARGET_PREFIX.length) : `${req.method ?? "?"} ${req.url ?? "/"}`;

    let body: Record<string, unknown> = {};
    if (isKms && reqBody.length > 0) {
      try {
        const parsed: unknown = JSON.parse(reqBody.toString("utf8"));
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch {
        // forwarded unchanged; moto will complain
      }
    }
    const keyIdValue = body.KeyId ?? body.TargetKeyId ?? body.DestinationKeyId ?? body.SourceKeyId;
    const keyId = typeof keyIdValue === "string" ? keyIdValue : undefined;
    const entry: CallLogEntry = { operation, keyId, status: 0, at };

    const finish = (outcome: Outcome | "reset"): void => {
      if (outcome === "reset") {
        entry.status = "reset";
        this.callLog.push(entry);
        req.socket.destroy();
        return;
      }
      entry.status = outcome.status;
      const err = errorType(outcome);
      if (err !== undefined) entry.error = err;
      this.callLog.push(entry);
      if (res.destroyed) return;
      res.writeHead(outcome.status, { ...outcome.headers, "content-length": outcome.body.length });
      res.end(outcome.body);
    };

    if (!isKms) {
      finish(await this.forward(req, reqBody));
      return;
    }

    // 1. injected faults
    const rule = this.matchFault(operation, keyId);
    let resetAfter = false;
    if (rule) {
      entry.fault = rule.kind;
      this.applied[rule.kind] = (this.applied[rule.kind] ?? 0) + 1;
      const hdr = { "x-kms-proxy-fault": rule.kind };
      switch (rule.kind) {
        case "throttle":
          return finish(jsonError(400, "ThrottlingException", "Rate exceeded", hdr));
        case "internal":
          return finish(
            jsonError(
              500,
              "KMSInternalException",
              "The request was rejected because an internal exception occurred.",
              hdr,
            ),
          );
        case "dependencyTimeout":
          return finish(
            jsonError(
              500,
              "DependencyTimeoutException",
              "The system timed out while trying to fulfill the request. You can retry the request.",
              hdr,
            ),
          );
        case "unavailable":
          return finish({
            status: 503,
            headers: { "content-type": "text/plain", ...hdr },
            body: Buffer.from("Service Unavailable"),
          });
        case "accessDenied": {
          const resource = keyId ?? "*";
          return finish(
            jsonError(
              400,
              "AccessDeniedException",
              `User: arn:aws:iam::111122223333:user/test is not authorized to perform: kms:${operation} on resource: ${resource} because no identity-based policy allows the kms:${operation} action`,
              hdr,
            ),
          );
        }
        case "resetBefore":
          return finish("reset");
        case "delay":
          await this.sleep(rule.delayMs ?? 0);
          if (this.stopped) return;
          break;
        case "resetAfter":
          resetAfter = true;
          break;
      }
    }

    const outcome = await this.process(req, reqBody, operation, body, entry);
    finish(resetAfter ? "reset" : outcome);
  }

  /** Quota, key-state rules, forwarding and DescribeKey rewriting. */
  private async process(
    req: http.IncomingMessage,
    reqBody: Buffer,
    operation: string,
    body: Record<string, unknown>,
    entry: CallLogEntry,
  ): Promise<Outcome> {
    // 2. request-rate quota
    if (!this.admit(operation)) {
      if (entry.fault !== "resetAfter") entry.fault = "quota";
      this.applied.quota = (this.applied.quota ?? 0) + 1;
      return jsonError(
        400,
        "ThrottlingException",
        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
        { "x-kms-proxy-fault": "quota" },
      );
    }

    // 3. key-state rules
    const allowed = STATE_RULES[operation];
    if (this.enforceKeyStates && allowed) {
      for (const id of stateCheckedKeyIds(operation, body)) {
        const meta = await this.describe(req, id);
        if (!meta) continue; // not found (or unexpected answer): moto answers the original request itself
        const state =
          (typeof meta.KeyId === "string" ? this.overrides.get(meta.KeyId) : undefined) ??
          this.overrides.get(normalizeKeyId(id)) ??
          (typeof meta.KeyState === "string" ? meta.KeyState : undefined);
        if (state !== undefined && !allowed.includes(state)) {
          const name = typeof meta.Arn === "string" ? meta.Arn : id;
          return jsonError(400, "KMSInvalidStateException", `${name} is ${state}`);
        }
      }
    }

    // 4. forward
    const outcome = await this.forward(req, reqBody);
    if (operation === "DescribeKey" && outcome.status === 200 && this.overrides.size > 0) {
      return this.rewriteDescribeKey(outcome, typeof body.KeyId === "string" ? body.KeyId : undefined);
    }
    return outcome;
  }

  private rewriteDescribeKey(outcome: Outcome, requestedKeyId: string | undefined): Outcome {
    let parsed: { KeyMetadata?: Record<string, unknown> };
    try {
      parsed = JSON.parse(outcome.body.toString("utf8")) as typeof parsed;
    } catch {
      return outcome;
    }
    const meta = parsed.KeyMetadata;
    if (!meta) return outcome;
    const state =
      (typeof meta.KeyId === "string" ? this.overrides.get(meta.KeyId) : undefined) ??
      (requestedKeyId !== undefined ? this.overrides.get(normalizeKeyId(requestedKeyId)) : undefined);
    if (state === undefined) return outcome;
    meta.KeyState = state;
    meta.Enabled = state === "Enabled";
    return { ...outcome, body: Buffer.from(JSON.stringify(parsed)) };
  }

  private matchFault(operation: string, keyId: string | undefined): FaultRule | undefined {
    for (const active of this.rules) {
      const { rule } = active;
      if (rule.operation !== undefined && rule.operation !== operation) continue;
      if (rule.keyId !== undefined && (keyId === undefined || normalizeKeyId(rule.keyId) !== normalizeKeyId(keyId)))
        continue;
      if (active.remaining <= 0) continue;
      const p = rule.probability ?? 1;
      if (p < 1 && !(this.random() < p)) continue;
      active.remaining--;
      return rule;
    }
    return undefined;
  }

  /** Token-bucket admission: true if the operation's bucket has a request left (and takes it). */
  private admit(operation: string): boolean {
    const perSecond = this.quotas.get(operation) ?? this.defaultQuota;
    if (perSecond === undefined) return true;
    const now = performance.now();
    let bucket = this.buckets.get(operation);
    if (!bucket || bucket.perSecond !== perSecond) {
      bucket = { perSecond, tokens: perSecond, refilledAt: now };
      this.buckets.set(operation, bucket);
    }
    bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.refilledAt) / 1000) * perSecond);
    bucket.refilledAt = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** The proxy's own DescribeKey straight to moto (not counted). undefined if moto did not answer 200. */
  private async describe(req: http.IncomingMessage, keyId: string): Promise<Record<string, unknown> | undefined> {
    const outcome = await this.send(req.headers, "POST", "/", Buffer.from(JSON.stringify({ KeyId: keyId })), {
      "x-amz-target": `${TARGET_PREFIX}DescribeKey`,
      "content-type": JSON_CT,
    });
    if (outcome.status !== 200) return undefined;
    try {
      const meta = (JSON.parse(outcome.body.toString("utf8")) as { KeyMetadata?: Record<string, unknown> }).KeyMetadata;
      return meta && typeof meta === "object" ? meta : undefined;
    } catch {
      return undefined;
    }
  }

  private forward(req: http.IncomingMessage, body: Buffer): Promise<Outcome> {
    return this.send(req.headers, req.method ?? "POST", req.url ?? "/", body, {});
  }

  /** One request to moto with the client's headers (host rewritten, hop-by-hop dropped); never rejects. */
  private send(
    incoming: http.IncomingHttpHeaders,
    method: string,
    path: string,
    body: Buffer,
    overrides: Record<string, string>,
  ): Promise<Outcome> {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(incoming)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      headers[name] = value;
    }
    Object.assign(headers, overrides);
    headers.host = this.target.host;
    headers["content-length"] = body.length;
    return new Promise((resolve) => {
      const upstream = http.request(
        {
          protocol: this.target.protocol,
          hostname: this.target.hostname,
          port: this.target.port,
          method,
          path,
          headers,
          agent: this.upstreamAgent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const out: http.OutgoingHttpHeaders = {};
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
            }
            resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
          });
          res.on("error", (err) => resolve(upstreamFailure(err)));
        },
      );
      upstream.on("error", (err) => resolve(upstreamFailure(err)));
      upstream.end(body);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

function upstreamFailure(err: Error): Outcome {
  return {
    status: 502,
    headers: { "content-type": "text/plain" },
    body: Buffer.from(`KmsProxy: upstream (moto) request failed: ${err.message}`),
  };
}
