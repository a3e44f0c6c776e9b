// A loopback HTTP proxy between the AWS SDK and moto's KMS server that makes moto behave more like AWS KMS. It counts
// calls per operation (callLog, calls()) and composes the rest, one module each:
//   - key-states.ts: KMS's key-state rules (KMSInvalidStateException), states moto cannot produce (overrideKeyState),
//     keys whose waiting period ended (deleteKeyAfter: moto cannot finish a deletion);
//   - faults.ts: injected faults (throttling, 5xx before or after the operation, resets, delays, access denied);
//   - quotas.ts: per-operation request quotas (AWS_KMS_QUOTAS) and the tags a key may have;
//   - accounts.ts: each access key in an account, also for STS GetCallerIdentity, and key ARNs resolved as KMS does;
//   - fidelity.ts: ListKeys' eventual consistency, RotationPeriodInDays and ListAliases' pages, which moto leaves out;
//   - replicas.ts: multi-Region key families (ReplicateKey's refusals and answer, PendingReplicaDeletion).
// Only Node built-ins. Requests are the KMS JSON protocol (protocol.ts).
import * as http from "node:http";
import * as net from "node:net";
import { Accounts, resolveKeyArns } from "./accounts";
import { answerBefore, FaultRule, Faults, internalErrorAfter } from "./faults";
import { listAliasesLimitProblem, listAliasesPage, ListKeysLag, RotationPeriods } from "./fidelity";
import { isStateChecked, KeyStates, refusalOf, stateCheckedKeyIds } from "./key-states";
import {
  errorType,
  jsonError,
  JSON_CONTENT_TYPE,
  KEY_ID_FIELDS,
  Outcome,
  parseBody,
  readBody,
  TARGET_PREFIX,
} from "./protocol";
import { quotaCosts, quotaExceeded, Quotas, tooManyTags } from "./quotas";
import { ReplicaFamilies } from "./replicas";

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
  /** How long a replica made by ReplicateKey stays in the transient Creating state; default 0. */
  replicaCreatingMs?: number;
}

export interface CallLogEntry {
  operation: string;
  keyId?: string;
  /** The Region the request was signed for. */
  region?: string;
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

/** The calls that only read: KMS's Describe*, Get* and List*, and STS's GetCallerIdentity. */
const READ = /^(Describe|Get|List)/;

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

export class KmsProxy {
  /** Every request received, in completion order (each with its arrival time). */
  readonly callLog: CallLogEntry[] = [];

  private readonly target: URL;
  private readonly enforceKeyStates: boolean;
  /** How often each fault kind (and "quota") applied since start / resetCounts(). */
  private readonly applied: Record<string, number> = {};
  private readonly keyStates = new KeyStates();
  private readonly faults: Faults;
  private readonly quotas: Quotas;
  private readonly accounts = new Accounts();
  private readonly listKeysLag: ListKeysLag;
  private readonly rotationPeriods = new RotationPeriods();
  private readonly replicas: ReplicaFamilies;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly upstreamAgent = new http.Agent({ keepAlive: false });
  private stopped = false;

  private readonly server: http.Server;
  private port = 0;

  private constructor(opts: ProxyOptions & { target: string }) {
    this.target = new URL(opts.target);
    this.enforceKeyStates = opts.enforceKeyStates ?? true;
    this.faults = new Faults(opts.seed ?? 1);
    this.quotas = new Quotas(opts.quotaPerSecond, opts.quotas);
    this.listKeysLag = new ListKeysLag(opts.listKeysLagMs ?? 0);
    this.replicas = new ReplicaFamilies(this.keyStates, (headers, operation, body, region) =>
      this.motoCall(headers, operation, body, region),
    );
    this.replicas.creatingMs = opts.replicaCreatingMs ?? 0;
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

  /** The calls that change something, in the order received: every call but the reads. */
  writeCalls(): CallLogEntry[] {
    return this.callLog.filter((entry) => !READ.test(entry.operation));
  }

  /** The operations of writeCalls(). */
  writes(): string[] {
    return this.writeCalls().map((entry) => entry.operation);
  }

  // ---- key states (key-states.ts) ----

  /**
   * While set, DescribeKey reports `state` for this key (KeyMetadata.Enabled = state === "Enabled") and the key-state
   * rules use it. `keyId` is a key ID (the key in every Region) or key ARN (in its Region only: a multi-Region primary
   * and its replicas share one key ID); undefined clears the override.
   */
  overrideKeyState(keyId: string, state: string | undefined): void {
    this.keyStates.override(keyId, state);
  }

  /**
   * The key's waiting period ends after KMS has answered `describeKeyCalls` more DescribeKey calls for it (0: now): from
   * then on every call naming it gets NotFoundException, as from KMS for a key deleted for good. `keyId` is a key ID or
   * key ARN.
   */
  deleteKeyAfter(keyId: string, describeKeyCalls: number): void {
    this.keyStates.deleteAfter(keyId, describeKeyCalls);
  }

  // ---- multi-Region keys (replicas.ts) ----

  /** For this long after ReplicateKey answers, the new replica is Creating, as in KMS; 0 makes it Enabled at once. */
  setReplicaCreatingMs(ms: number): void {
    this.replicas.creatingMs = ms;
  }

  // ---- accounts (accounts.ts) ----

  /** Requests signed with this access key ID are made in `account` (moto's default account otherwise). */
  mapAccessKey(accessKeyId: string, account: string): void {
    this.accounts.map(accessKeyId, account);
  }

  // ---- eventual consistency (fidelity.ts) ----

  /** For this long after CreateKey answers, ListKeys leaves the new key out, as KMS may; 0 lists it at once. */
  setListKeysLag(ms: number): void {
    this.listKeysLag.lagMs = ms;
  }

  // ---- faults (faults.ts) ----

  addFault(rule: FaultRule): void {
    this.faults.add(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  // ---- quotas (quotas.ts) ----

  /**
   * Requests per second for `operation`, or the default for every operation without its own quota when `operation`
   * is omitted. Each operation has its own token bucket, starting full. undefined removes the quota.
   */
  setQuota(perSecond: number | undefined, operation?: string): void {
    this.quotas.set(perSecond, operation);
  }

  /** Replaces every per-operation quota with `table` (e.g. AWS_KMS_QUOTAS); {} removes them. The default is kept. */
  setQuotas(table: Readonly<Record<string, number>>): void {
    this.quotas.setAll(table);
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
    const keyIdValue = KEY_ID_FIELDS.map((field) => body[field]).find((value) => value !== undefined && value !== null);
    const keyId = typeof keyIdValue === "string" ? keyIdValue : undefined;
    const region = this.accounts.placeOf(req.headers).region;
    const entry: CallLogEntry = { operation, keyId, region, status: 0, at };

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
    if (this.keyStates.deletedFor(operation, keyId, region)) {
      return finish(jsonError(400, "NotFoundException", `Key '${keyId}' does not exist`));
    }

    // 1. injected faults
    const rule = this.faults.match(operation, keyId, entry.tagKeys);
    if (rule) {
      entry.fault = rule.kind;
      this.applied[rule.kind] = (this.applied[rule.kind] ?? 0) + 1;
      const answer = answerBefore(rule, operation, keyId);
      if (answer !== undefined) return finish(answer);
      if (rule.kind === "delay") {
        await this.sleep(rule.delayMs ?? 0);
        if (this.stopped) return;
      }
    }

    const outcome = await this.process(req, reqBody, operation, body, entry);
    const after = rule?.kind === "resetAfter" || rule?.kind === "internalAfter" ? rule : undefined;
    if (after?.whileHeld) await after.whileHeld();
    if (this.stopped) return;
    if (after?.kind === "internalAfter") return finish(internalErrorAfter());
    finish(after?.kind === "resetAfter" ? "reset" : outcome);
  }

  /** Quota, key ARNs, key-state rules, forwarding, and the answers moto gives differently from KMS. */
  private async process(
    req: http.IncomingMessage,
    reqBody: Buffer,
    operation: string,
    body: Record<string, unknown>,
    entry: CallLogEntry,
  ): Promise<Outcome> {
    const region = this.accounts.placeOf(req.headers).region;
    // 2. request-rate quota
    if (!this.quotas.admit(quotaCosts(operation, region, body))) {
      if (entry.fault !== "resetAfter") entry.fault = "quota";
      this.applied.quota = (this.applied.quota ?? 0) + 1;
      return quotaExceeded();
    }

    // 3. key ARNs: moto is handed the bare key ID of an ARN in the request's own account and Region.
    const resolved = resolveKeyArns(body, this.accounts.placeOf(req.headers));
    if ("notFound" in resolved) return resolved.notFound;
    body = resolved.body;
    if (resolved.rewritten) reqBody = Buffer.from(JSON.stringify(body));

    // 4. key-state rules
    const metas: Record<string, unknown>[] = [];
    if (this.enforceKeyStates && isStateChecked(operation)) {
      for (const id of stateCheckedKeyIds(operation, body)) {
        const meta = await this.describe(req, id);
        if (!meta) continue; // not found (or unexpected answer): moto answers the original request itself
        metas.push(meta);
        const state = this.keyStates.stateOf(meta, id, region);
        const refusal = state === undefined ? undefined : refusalOf(operation, state);
        if (refusal) {
          const name = typeof meta.Arn === "string" ? meta.Arn : id;
          return jsonError(400, refusal.error, `${name} ${refusal.message}.`);
        }
      }
    }

    // 5. the tags a key may have: KMS refuses a CreateKey that carries more; ListAliases' Limit is 1 to 100.
    const tagRefusal = operation === "CreateKey" ? tooManyTags(entry.tagKeys?.length ?? 0) : undefined;
    if (tagRefusal) return tagRefusal;
    const limitRefusal = operation === "ListAliases" ? listAliasesLimitProblem(body) : undefined;
    if (limitRefusal) return limitRefusal;
    await this.dropAliasesOfDeletedKeys(req, operation, body);

    // 6. multi-Region keys: what KMS refuses to replicate
    const familyRefusal =
      operation === "ReplicateKey" && this.enforceKeyStates ? this.replicas.refusal(metas[0], body) : undefined;
    if (familyRefusal) return familyRefusal;

    // 7. forward, then put right what moto answers differently
    const outcome = await this.forward(req, reqBody);
    if (outcome.status !== 200) return outcome;
    this.keyStates.settle(operation, metas);
    const requestedKeyId = typeof body.KeyId === "string" ? body.KeyId : undefined;
    const keyIds = metas.map((meta) => meta.KeyId).filter((id): id is string => typeof id === "string");
    switch (operation) {
      case "CreateKey":
        this.listKeysLag.recordCreated(outcome);
        return outcome;
      case "EnableKeyRotation":
        if (keyIds[0] !== undefined) this.rotationPeriods.recordEnabled(keyIds[0], body);
        return outcome;
      case "GetKeyRotationStatus": {
        const shown = this.rotationPeriods.rotationStatusAnswer(outcome, body);
        if (!this.enforceKeyStates) return shown;
        const meta = await this.describe(req, requestedKeyId ?? "");
        return this.keyStates.rotationStatusAnswer(shown, this.keyStates.stateOf(meta, requestedKeyId, region));
      }
      case "ListKeys":
        return this.listKeysLag.listKeysAnswer(outcome);
      case "ListAliases":
        return listAliasesPage(outcome, body);
      case "DescribeKey": {
        const answer = this.replicas.describeKeyAnswer(outcome);
        return this.keyStates.anyOverridden ? this.keyStates.describeKeyAnswer(answer, requestedKeyId, region) : answer;
      }
      case "ReplicateKey":
        return this.replicas.replicated(req.headers, body, outcome);
      case "ScheduleKeyDeletion":
        return this.enforceKeyStates ? this.replicas.scheduled(metas[0], body, outcome) : outcome;
      default:
        return outcome;
    }
  }

  /**
   * "If you delete a KMS key, all aliases associated with that KMS key are deleted" (developer guide, Delete an alias):
   * before a call that sees aliases, those of keys whose waiting period ended (deleteKeyAfter) go, straight to moto.
   */
  private async dropAliasesOfDeletedKeys(
    req: http.IncomingMessage,
    operation: string,
    body: Record<string, unknown>,
  ): Promise<void> {
    const deleted = this.keyStates.deletedKeyIds(this.accounts.placeOf(req.headers).region);
    const seesAliases =
      ["ListAliases", "CreateAlias", "UpdateAlias", "DeleteAlias"].includes(operation) ||
      (operation === "DescribeKey" && typeof body.KeyId === "string" && /(^|:)alias\//.test(body.KeyId));
    if (deleted.size === 0 || !seesAliases) return;
    const call = (target: string, request: Record<string, unknown>) =>
      this.send(req.headers, "POST", "/", Buffer.from(JSON.stringify(request)), {
        "x-amz-target": `${TARGET_PREFIX}${target}`,
        "content-type": JSON_CONTENT_TYPE,
      });
    const listed = parseBody<{ Aliases?: { AliasName?: string; TargetKeyId?: string }[] }>(
      await call("ListAliases", {}),
    );
    for (const alias of listed?.Aliases ?? []) {
      if (alias.AliasName && alias.TargetKeyId && deleted.has(alias.TargetKeyId)) {
        await call("DeleteAlias", { AliasName: alias.AliasName });
      }
    }
  }

  /** The proxy's own DescribeKey straight to moto (not counted). undefined if moto did not answer 200. */
  private async describe(req: http.IncomingMessage, keyId: string): Promise<Record<string, unknown> | undefined> {
    const outcome = await this.motoCall(req.headers, "DescribeKey", { KeyId: keyId });
    if (outcome.status !== 200) return undefined;
    const meta = parseBody<{ KeyMetadata?: Record<string, unknown> }>(outcome)?.KeyMetadata;
    return meta && typeof meta === "object" ? meta : undefined;
  }

  /** The proxy's own request straight to moto (not counted), signed as the client's but maybe for another Region. */
  private motoCall(
    headers: http.IncomingHttpHeaders,
    operation: string,
    body: Record<string, unknown>,
    region?: string,
  ): Promise<Outcome> {
    const authorization = typeof headers.authorization === "string" ? headers.authorization : undefined;
    const signed =
      region === undefined || authorization === undefined
        ? headers
        : { ...headers, authorization: authorization.replace(/(Credential=[^/]+\/[0-9]{8}\/)[^/]+\//, `$1${region}/`) };
    return this.send(signed, "POST", "/", Buffer.from(JSON.stringify(body)), {
      "x-amz-target": `${TARGET_PREFIX}${operation}`,
      "content-type": JSON_CONTENT_TYPE,
    });
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
    Object.assign(headers, overrides, this.accounts.motoHeaders(incoming));
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
