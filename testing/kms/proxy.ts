// A loopback HTTP proxy between the AWS SDK and moto's KMS server that makes moto behave more like AWS KMS:
//   - counts calls per operation (callLog, calls()),
//   - enforces KMS key-state rules that moto does not (KMSInvalidStateException),
//   - lets tests pretend a key is in a state moto cannot produce (overrideKeyState), or that its waiting period ended
//     (deleteKeyAfter: moto cannot finish a deletion),
//   - injects faults (throttling, 5xx before or after the operation, connection resets before/after it, delays,
//     access denied),
//   - applies per-operation request quotas like KMS does: a token bucket per operation (AWS_KMS_QUOTAS),
//   - puts each access key in an account (moto reads `x-moto-account-id`), also for STS GetCallerIdentity, and
//     resolves key ARNs as KMS does: an ARN of another account or Region is not found (moto ignores both parts).
// Only Node built-ins. Requests are the KMS JSON protocol: POST /, X-Amz-Target: TrentService.<Operation>, JSON body.
import * as http from "node:http";
import * as net from "node:net";
import { randomUUID } from "node:crypto";
import { AWS_KMS_QUOTAS } from "../../provider/kms/quotas";

export type FaultKind =
  | "throttle"
  | "internal"
  | "internalAfter"
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
  /** For "resetAfter" and "internalAfter": runs once moto has carried the request out, before the client hears. */
  whileHeld?: () => Promise<unknown>;
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
  /** How long a key made by CreateKey stays missing from ListKeys (KMS is eventually consistent); default 0. */
  listKeysLagMs?: number;
  /** Requests per second by operation, e.g. AWS_KMS_QUOTAS; see setQuotas. */
  quotas?: Readonly<Record<string, number>>;
}

/** AWS KMS's default request quotas, the same table the provider paces itself by (checked against AWS's in the tests). */
export { AWS_KMS_QUOTAS };

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
  /** The tag keys a CreateKey request carried. */
  tagKeys?: string[];
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

/** The account moto puts a request in when no `x-moto-account-id` header says otherwise. */
export const MOTO_DEFAULT_ACCOUNT = "123456789012";
/** Request fields that name a key. */
const KEY_ID_FIELDS = ["KeyId", "TargetKeyId", "DestinationKeyId", "SourceKeyId"];
/** A key ARN's Region (possibly empty or left out), account and key ID. */
const KEY_ARN = /^arn:[^:]*:[^:]+:(?:([^:]*):)?([0-9]{12}):key\/(.+)$/;

// ---- key-state rules (AWS KMS developer guide, "Key states of AWS KMS keys", key state table) ----
// Each rule lists the states in which KMS refuses the operation and the error it answers there; a state not listed
// is allowed. Footnotes of the table: [1] DisabledException: is disabled; [3] KMSInvalidStateException: is pending
// deletion; [4] ... is not pending deletion; [5] ... is pending import; [6]/[7] UnsupportedOperationException;
// [11] ... is unavailable; [14] ... is creating; [15] ... is updating.

type Refusal = { error: string; message: string };
type StateRule = Partial<Record<string, Refusal>>;

const PENDING = ["PendingDeletion", "PendingReplicaDeletion"];
const refuse = (error: string, message: string): Refusal => ({ error, message });
const DISABLED = refuse("DisabledException", "is disabled"); // [1]
const PENDING_DELETION = refuse("KMSInvalidStateException", "is pending deletion"); // [3]
const NOT_PENDING = refuse("KMSInvalidStateException", "is not pending deletion"); // [4]
const PENDING_IMPORT = refuse("KMSInvalidStateException", "is pending import"); // [5]
const EXTERNAL = refuse("UnsupportedOperationException", "origin is EXTERNAL which is not valid for this operation"); // [6]
const CUSTOM_KEY_STORE = refuse("UnsupportedOperationException", "is in a custom key store"); // [7]
const UNAVAILABLE = refuse("KMSInvalidStateException", "is unavailable"); // [11]
const CREATING = refuse("KMSInvalidStateException", "is creating"); // [14]
const UPDATING = refuse("KMSInvalidStateException", "is updating"); // [15]

function pendingDeletion(): StateRule {
  return Object.fromEntries(PENDING.map((state) => [state, PENDING_DELETION]));
}

// Row CancelKeyDeletion: only a key pending (replica) deletion, X[4] in every other state.
const CANCEL: StateRule = Object.fromEntries(
  ["Enabled", "Disabled", "PendingImport", "Unavailable", "Creating", "Updating"].map((s) => [s, NOT_PENDING]),
);
// Rows EnableKey, DisableKey: X[3] pending deletion, X[5] pending import, X[14] creating, X[15] updating; Unavailable ✓[12].
const ENABLE_DISABLE: StateRule = {
  ...pendingDeletion(),
  PendingImport: PENDING_IMPORT,
  Creating: CREATING,
  Updating: UPDATING,
};
// Rows EnableKeyRotation, DisableKeyRotation: X[1] disabled, X[3] pending deletion, X[6] pending import,
// X[7] unavailable, X[14] creating; Updating ?[7].
const ROTATION: StateRule = {
  Disabled: DISABLED,
  ...pendingDeletion(),
  PendingImport: EXTERNAL,
  Unavailable: CUSTOM_KEY_STORE,
  Creating: CREATING,
};
// Rows TagResource, UntagResource, UpdateKeyDescription: X[3] pending deletion; every other state ✓.
const METADATA: StateRule = pendingDeletion();
// Row ScheduleKeyDeletion: X[3] pending deletion, X[15] updating; Unavailable, PendingImport, Creating ✓.
const SCHEDULE: StateRule = { ...pendingDeletion(), Updating: UPDATING };
// Rows Encrypt, Decrypt, GenerateDataKey*, ReEncrypt: X[1] disabled, X[2] or [3] pending deletion (KMS answers [3]
// for a key pending deletion), X[5] pending import, X[11] unavailable, X[14] creating; Updating ✓.
const CRYPTO: StateRule = {
  Disabled: DISABLED,
  ...pendingDeletion(),
  PendingImport: PENDING_IMPORT,
  Unavailable: UNAVAILABLE,
  Creating: CREATING,
};
// Rows Sign, Verify, GenerateMac, VerifyMac: as the cryptographic rows; PendingImport and Unavailable are N/A.
const SIGN_MAC: StateRule = { Disabled: DISABLED, ...pendingDeletion(), Creating: CREATING };

const STATE_RULES: Record<string, StateRule> = {
  CancelKeyDeletion: CANCEL,
  EnableKey: ENABLE_DISABLE,
  DisableKey: ENABLE_DISABLE,
  EnableKeyRotation: ROTATION,
  DisableKeyRotation: ROTATION,
  // Row GetKeyRotationStatus: X[6] pending import, X[7] unavailable (a custom key store); ? elsewhere.
  GetKeyRotationStatus: { PendingImport: EXTERNAL, Unavailable: CUSTOM_KEY_STORE },
  // Row PutKeyPolicy: ✓ in every key state, pending deletion included.
  PutKeyPolicy: {},
  TagResource: METADATA,
  UntagResource: METADATA,
  UpdateKeyDescription: METADATA,
  ScheduleKeyDeletion: SCHEDULE,
  Encrypt: CRYPTO,
  Decrypt: CRYPTO,
  GenerateDataKey: CRYPTO,
  GenerateDataKeyWithoutPlaintext: CRYPTO,
  GenerateDataKeyPair: CRYPTO,
  GenerateDataKeyPairWithoutPlaintext: CRYPTO,
  ReEncrypt: CRYPTO,
  Sign: SIGN_MAC,
  Verify: SIGN_MAC,
  GenerateMac: SIGN_MAC,
  VerifyMac: SIGN_MAC,
  // Rows DescribeKey, GetKeyPolicy, ListResourceTags, ListKeyPolicies, ListAliases: ✓ in
  // every state (no lookup is made). CreateKey and ListKeys use no existing key. Operations not listed: not checked.
};

/** KMS's limit of tags on one key ("Quotas": 50 tags per KMS key). */
export const MAX_TAGS_PER_KEY = 50;

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
  /** DescribeKey answers each key still gets before its waiting period ends (deleteKeyAfter). */
  private readonly deletions = new Map<string, number>();
  /** Keys whose waiting period ended: KMS no longer has them. */
  private readonly deleted = new Set<string>();
  private readonly accounts = new Map<string, string>();
  /** Keys made through this proxy and when, for ListKeys' eventual consistency. */
  private readonly created = new Map<string, number>();
  /** RotationPeriodInDays as EnableKeyRotation last set it, by key ID (moto does not keep it). */
  private readonly rotationPeriods = new Map<string, number>();
  private listKeysLagMs: number;
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
    this.listKeysLagMs = opts.listKeysLagMs ?? 0;
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

  /**
   * The key's waiting period ends after KMS has answered `describeKeyCalls` more DescribeKey calls for it (0: now): from
   * then on every call naming it gets NotFoundException, as from KMS for a key deleted for good. `keyId` is a key ID or
   * key ARN.
   */
  deleteKeyAfter(keyId: string, describeKeyCalls: number): void {
    const id = normalizeKeyId(keyId);
    if (describeKeyCalls <= 0) this.deleted.add(id);
    else this.deletions.set(id, describeKeyCalls);
  }

  /** Whether a call of `operation` naming `keyId` finds the key deleted for good; counts down deleteKeyAfter. */
  private deletedFor(operation: string, keyId: string | undefined): boolean {
    if (keyId === undefined) return false;
    const id = normalizeKeyId(keyId);
    const left = this.deletions.get(id);
    // The period ends at the first DescribeKey past the count: the other reads of the last answered one still succeed.
    if (left !== undefined && operation === "DescribeKey") {
      if (left > 0) this.deletions.set(id, left - 1);
      else {
        this.deletions.delete(id);
        this.deleted.add(id);
      }
    }
    return this.deleted.has(id);
  }

  // ---- accounts ----

  /** Requests signed with this access key ID are made in `account` (moto's default account otherwise). */
  mapAccessKey(accessKeyId: string, account: string): void {
    this.accounts.set(accessKeyId, account);
  }

  /** The account and Region a request is made in: its access key's account, its signature's Region. */
  private placeOf(headers: http.IncomingHttpHeaders): { account: string; region?: string; accessKeyId?: string } {
    const authorization = typeof headers.authorization === "string" ? headers.authorization : "";
    const credential = /Credential=([^/,\s]+)\/[0-9]{8}\/([^/,\s]+)\//.exec(authorization);
    const accessKeyId = credential?.[1];
    const account = (accessKeyId !== undefined ? this.accounts.get(accessKeyId) : undefined) ?? MOTO_DEFAULT_ACCOUNT;
    return { account, region: credential?.[2], accessKeyId };
  }

  // ---- eventual consistency ----

  /**
   * For this long after CreateKey answers, ListKeys leaves the new key out, as KMS may ("AWS KMS eventual
   * consistency": a new key may not appear in ListKeys at once). 0 lists it at once, as moto does.
   */
  setListKeysLag(ms: number): void {
    this.listKeysLagMs = ms;
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
    // Other services (STS) speak the query protocol: the operation is the form's Action.
    const action = isKms ? undefined : /(?:^|&)Action=([A-Za-z]+)/.exec(reqBody.toString("utf8"))?.[1];
    const operation = isKms ? target.slice(TARGET_PREFIX.length) : (action ?? `${req.method ?? "?"} ${req.url ?? "/"}`);

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
      // moto's Date is passed on; Node dates the proxy's own answers (sendDate), by the same clock: KMS's Date header.
      res.writeHead(outcome.status, { ...outcome.headers, "content-length": outcome.body.length });
      res.end(outcome.body);
    };

    if (!isKms) {
      finish(await this.forward(req, reqBody));
      return;
    }

    if (operation === "CreateKey" && Array.isArray(body.Tags)) {
      entry.tagKeys = body.Tags.map((tag: { TagKey?: unknown }) => String(tag.TagKey));
    }

    // 0. keys deleted for good
    if (isKms && this.deletedFor(operation, keyId)) {
      return finish(jsonError(400, "NotFoundException", `Key '${keyId}' does not exist`));
    }

    // 1. injected faults
    const rule = this.matchFault(operation, keyId) ?? this.tagOnCreateDenied(operation, entry);
    let resetAfter = false;
    let internalAfter = false;
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
          // Tags on CreateKey need kms:TagResource as well (CreateKey, "Required permissions").
          const action = rule.operation === "TagResource" ? "TagResource" : operation;
          return finish(
            jsonError(
              400,
              "AccessDeniedException",
              `User: arn:aws:iam::111122223333:user/test is not authorized to perform: kms:${action} on resource: ${resource} because no identity-based policy allows the kms:${action} action`,
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
        case "internalAfter":
          internalAfter = true;
          break;
      }
    }

    const outcome = await this.process(req, reqBody, operation, body, entry);
    if (rule?.whileHeld && (resetAfter || internalAfter)) await rule.whileHeld();
    if (this.stopped) return;
    if (internalAfter) {
      // KMS carried the request out, then answered 500: the client can't tell whether it did.
      return finish(
        jsonError(500, "KMSInternalException", "The request was rejected because an internal exception occurred.", {
          "x-kms-proxy-fault": "internalAfter",
        }),
      );
    }
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

    // 3. key ARNs: KMS finds a key by ARN only in the ARN's own account and Region; moto ignores both parts and
    // resolves an ARN in only some operations, so the proxy checks them and hands moto the bare key ID.
    const place = this.placeOf(req.headers);
    let rewritten = false;
    for (const field of KEY_ID_FIELDS) {
      const value = body[field];
      if (typeof value !== "string") continue;
      const arn = KEY_ARN.exec(value);
      if (!arn) continue;
      const [, arnRegion = "", arnAccount, id] = arn;
      if (
        arnAccount !== place.account ||
        (arnRegion !== "" && place.region !== undefined && arnRegion !== place.region)
      ) {
        return jsonError(400, "NotFoundException", `Key '${value}' does not exist`);
      }
      body = { ...body, [field]: id };
      rewritten = true;
    }
    if (rewritten) reqBody = Buffer.from(JSON.stringify(body));

    // 4. key-state rules
    const rule = STATE_RULES[operation];
    const resolved: string[] = [];
    if (this.enforceKeyStates && rule) {
      for (const id of stateCheckedKeyIds(operation, body)) {
        const meta = await this.describe(req, id);
        if (!meta) continue; // not found (or unexpected answer): moto answers the original request itself
        if (typeof meta.KeyId === "string") resolved.push(meta.KeyId);
        const state =
          (typeof meta.KeyId === "string" ? this.overrides.get(meta.KeyId) : undefined) ??
          this.overrides.get(normalizeKeyId(id)) ??
          (typeof meta.KeyState === "string" ? meta.KeyState : undefined);
        const refusal = state === undefined ? undefined : rule[state];
        if (refusal) {
          const name = typeof meta.Arn === "string" ? meta.Arn : id;
          return jsonError(400, refusal.error, `${name} ${refusal.message}.`);
        }
      }
    }

    // Quotas, "Tags per KMS key": 50; KMS refuses a CreateKey that carries more.
    if (operation === "CreateKey" && (entry.tagKeys?.length ?? 0) > MAX_TAGS_PER_KEY) {
      return jsonError(
        400,
        "TagException",
        `A KMS key can have at most ${MAX_TAGS_PER_KEY} tags; got ${entry.tagKeys?.length}.`,
      );
    }

    // 5. forward
    const outcome = await this.forward(req, reqBody);
    if (operation === "CreateKey" && outcome.status === 200) this.recordCreated(outcome);
    if (outcome.status === 200) this.settleOverrides(operation, resolved);
    if (operation === "EnableKeyRotation" && outcome.status === 200 && resolved[0] !== undefined) {
      const period = typeof body.RotationPeriodInDays === "number" ? body.RotationPeriodInDays : 365;
      this.rotationPeriods.set(resolved[0], period);
    }
    if (operation === "GetKeyRotationStatus" && outcome.status === 200) {
      const shown = this.withRotationPeriod(outcome, body);
      if (!this.enforceKeyStates) return shown;
      return this.hideRotationWhilePendingDeletion(req, shown, typeof body.KeyId === "string" ? body.KeyId : "");
    }
    if (operation === "ListKeys" && outcome.status === 200 && this.listKeysLagMs > 0) return this.lagListKeys(outcome);
    if (operation === "DescribeKey" && outcome.status === 200 && this.overrides.size > 0) {
      return this.rewriteDescribeKey(outcome, typeof body.KeyId === "string" ? body.KeyId : undefined);
    }
    return outcome;
  }

  /**
   * GetKeyRotationStatus (KMS API reference): "While a KMS key is pending deletion, its key rotation status is false";
   * moto keeps the status, so a cancel brings the earlier one back, as KMS does.
   */
  private async hideRotationWhilePendingDeletion(
    req: http.IncomingMessage,
    outcome: Outcome,
    keyId: string,
  ): Promise<Outcome> {
    const meta = await this.describe(req, keyId);
    const id = typeof meta?.KeyId === "string" ? meta.KeyId : normalizeKeyId(keyId);
    const state = this.overrides.get(id) ?? meta?.KeyState;
    if (state !== "PendingDeletion" && state !== "PendingReplicaDeletion") return outcome;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(outcome.body.toString("utf8")) as Record<string, unknown>;
    } catch {
      return outcome;
    }
    parsed.KeyRotationEnabled = false;
    for (const field of ["RotationPeriodInDays", "NextRotationDate", "OnDemandRotationStartDate"]) delete parsed[field];
    return { ...outcome, body: Buffer.from(JSON.stringify(parsed)) };
  }

  /** A state moto can't hold ends as it would in KMS when a call changes it. */
  private settleOverrides(operation: string, keyIds: string[]): void {
    for (const id of keyIds) {
      const state = this.overrides.get(id);
      // Row CancelKeyDeletion: the key leaves pending (replica) deletion; moto has made it Disabled.
      if (operation === "CancelKeyDeletion" && state !== undefined && PENDING.includes(state))
        this.overrides.delete(id);
      // Footnote [13]: a key in a custom key store that is scheduled for deletion is PendingDeletion, even if unavailable.
      if (operation === "ScheduleKeyDeletion" && state === "Unavailable") this.overrides.delete(id);
    }
  }

  /** GetKeyRotationStatus with RotationPeriodInDays, which KMS includes whenever rotation is enabled (365 by default). */
  private withRotationPeriod(outcome: Outcome, body: Record<string, unknown>): Outcome {
    let parsed: { KeyId?: unknown; KeyRotationEnabled?: unknown; RotationPeriodInDays?: unknown };
    try {
      parsed = JSON.parse(outcome.body.toString("utf8")) as typeof parsed;
    } catch {
      return outcome;
    }
    if (parsed.KeyRotationEnabled !== true || parsed.RotationPeriodInDays !== undefined) return outcome;
    const requested = typeof body.KeyId === "string" ? normalizeKeyId(body.KeyId) : "";
    const id = typeof parsed.KeyId === "string" ? normalizeKeyId(parsed.KeyId) : requested;
    parsed.RotationPeriodInDays = this.rotationPeriods.get(id) ?? this.rotationPeriods.get(requested) ?? 365;
    return { ...outcome, body: Buffer.from(JSON.stringify(parsed)) };
  }

  private recordCreated(outcome: Outcome): void {
    try {
      const id = (JSON.parse(outcome.body.toString("utf8")) as { KeyMetadata?: { KeyId?: unknown } }).KeyMetadata
        ?.KeyId;
      if (typeof id === "string") this.created.set(id, Date.now());
    } catch {
      // not JSON: nothing to record
    }
  }

  /** ListKeys without the keys made less than listKeysLagMs ago. */
  private lagListKeys(outcome: Outcome): Outcome {
    let parsed: { Keys?: { KeyId?: string }[] };
    try {
      parsed = JSON.parse(outcome.body.toString("utf8")) as typeof parsed;
    } catch {
      return outcome;
    }
    const now = Date.now();
    const visible = (id: string | undefined) => {
      const at = id === undefined ? undefined : this.created.get(id);
      return at === undefined || now - at >= this.listKeysLagMs;
    };
    parsed.Keys = (parsed.Keys ?? []).filter((key) => visible(key.KeyId));
    return { ...outcome, body: Buffer.from(JSON.stringify(parsed)) };
  }

  /** An accessDenied rule for TagResource also refuses a CreateKey that carries tags, as KMS does. */
  private tagOnCreateDenied(operation: string, entry: CallLogEntry): FaultRule | undefined {
    if (operation !== "CreateKey" || (entry.tagKeys?.length ?? 0) === 0) return undefined;
    const active = this.rules.find(
      ({ rule, remaining }) =>
        rule.operation === "TagResource" && rule.kind === "accessDenied" && rule.keyId === undefined && remaining > 0,
    );
    if (!active) return undefined;
    active.remaining--;
    return active.rule;
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
    // DescribeKey has DeletionDate only for PendingDeletion; a PendingReplicaDeletion key has none (KeyMetadata).
    if (state !== "PendingDeletion") delete meta.DeletionDate;
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
    // moto takes the request's account from this header (when MOTO_ACCOUNT_ID is not set).
    const { accessKeyId } = this.placeOf(incoming);
    const account = accessKeyId !== undefined ? this.accounts.get(accessKeyId) : undefined;
    if (account !== undefined) headers["x-moto-account-id"] = account;
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
