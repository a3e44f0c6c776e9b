// Every provider operation under every fault kind the proxy injects: it completes, or fails with a clear error,
// and no key is lost, duplicated or recreated. Provider level (KmsKeyProvider, as the engine's plugin runs it).
import { expect } from "chai";
import {
  DescribeKeyCommand,
  DisableKeyCommand,
  KeyMetadata,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { KmsKeyProvider } from "../../sdk";
import { FaultKind } from "../../testing/kms/faults";
import { figures, MatrixCell, Outcome, scanForSecrets } from "./figures";
import { mapBounded } from "../../cli/pool";
import { useFakeCredentials } from "../../testing/credentials";
import { listKeyIds, outOfBand } from "../../testing/kms/out-of-band";
import { KmsProxy } from "../../testing/kms/proxy";
import { KmsServer, startKmsServer } from "../../testing/kms/server";

type Props = Record<string, unknown>;
type Mode = "burst" | "persistent";

const KINDS: FaultKind[] = [
  "throttle",
  "internal",
  "dependencyTimeout",
  "unavailable",
  "resetBefore",
  "resetAfter",
  "delay",
  "accessDenied",
];

/** Every KMS API the provider calls: a burst makes each of them fail twice. */
const PROVIDER_APIS = [
  "CreateKey",
  "ListKeys",
  "DescribeKey",
  "GetKeyPolicy",
  "GetKeyRotationStatus",
  "ListResourceTags",
  "CancelKeyDeletion",
  "EnableKey",
  "DisableKey",
  "UpdateKeyDescription",
  "PutKeyPolicy",
  "EnableKeyRotation",
  "DisableKeyRotation",
  "TagResource",
  "UntagResource",
  "ScheduleKeyDeletion",
];
const KMS_OPERATION = new RegExp(`\\b(${PROVIDER_APIS.join("|")})\\b|kms:[A-Za-z]+`);

/** Words that say what went wrong, per fault kind. */
const CAUSE: Record<FaultKind, RegExp> = {
  throttle: /Throttling|rate/i,
  internal: /KMSInternalException|internal/i,
  internalAfter: /KMSInternalException|internal/i,
  dependencyTimeout: /DependencyTimeout|timed out/i,
  unavailable: /\b503\b|unavailable/i,
  resetBefore: /socket hang up|ECONNRESET|connection|reset/i,
  resetAfter: /socket hang up|ECONNRESET|connection|reset/i,
  delay: /./,
  accessDenied: /access denied/i,
};

/** Key states moto cannot produce; the proxy reports them (overrideKeyState). */
const REFUSING_STATES = ["Unavailable", "Creating", "Updating"];
const UPDATE_FROM = [
  "Enabled",
  "Disabled",
  "PendingDeletion",
  "PendingReplicaDeletion",
  "PendingImport",
  ...REFUSING_STATES,
];

/** Regions for the create cells: each its own, so a duplicate key would show in that region's ListKeys. */
const CREATE_REGIONS = [
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "ca-central-1",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "eu-central-1",
  "eu-north-1",
  "eu-south-1",
  "ap-south-1",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "sa-east-1",
];
const SHARED_REGION = "us-east-1";

interface Ctx {
  provider: KmsKeyProvider;
  proxy: KmsProxy;
  endpoint: string;
  /** moto itself, bypassing the proxy. */
  endpointMoto: string;
  region: string;
  moto: KMSClient;
  label: string;
  /** Every key the test knows the provider made or holds (tracked by the engine). */
  tracked: Set<string>;
}

interface Prepared {
  id?: string;
  arn?: string;
  inputs?: Props;
  outs?: Props;
  news?: Props;
}

interface OpSpec {
  name: string;
  /** The KMS call a persistent fault (and accessDenied) hits. */
  primary: string;
  /** For "update from STATE". */
  from?: string;
  prepare(ctx: Ctx): Promise<Prepared>;
  /** Does the operation; throws what the provider throws; checks what a success must leave. */
  act(ctx: Ctx, p: Prepared): Promise<void>;
  /** What the next run does after an error, with the faults gone. */
  again(ctx: Ctx, p: Prepared, error: ErrorWithState): Promise<void>;
  /** After the faults and the next run: the key as it must be. Returns problems found. */
  verify(ctx: Ctx, p: Prepared): Promise<string[]>;
}

type ErrorWithState = Error & { id?: string; properties?: Props };

async function check(ctx: Ctx, news: Props, olds: Props = {}): Promise<Props> {
  const checked = await ctx.provider.check(olds, { endpoint: ctx.endpoint, ...news });
  if (checked.failures?.length) throw new Error(`check failed: ${JSON.stringify(checked.failures)}`);
  return checked.inputs as Props;
}

async function newKey(ctx: Ctx, news: Props = {}): Promise<Prepared> {
  const inputs = await check(ctx, { description: "before", deletionWindowInDays: 7, ...news });
  const created = await ctx.provider.create(inputs);
  ctx.tracked.add(created.id);
  const outs = created.outs as Props;
  return { id: created.id, arn: outs.arn as string, inputs, outs };
}

async function motoKey(ctx: Ctx, id: string): Promise<KeyMetadata | undefined> {
  try {
    return (await ctx.moto.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata;
  } catch {
    return undefined;
  }
}

const createOp: OpSpec = {
  name: "create",
  primary: "CreateKey",
  async prepare(ctx) {
    return { inputs: await check(ctx, { region: ctx.region, description: ctx.label }) };
  },
  async act(ctx, p) {
    try {
      const created = await ctx.provider.create(p.inputs!);
      p.id = created.id;
      ctx.tracked.add(created.id);
    } catch (err) {
      const id = (err as ErrorWithState).id;
      if (id) {
        p.id = id;
        ctx.tracked.add(id);
      }
      throw err;
    }
  },
  async again(ctx, p) {
    if (!p.id) await createOp.act(ctx, p);
  },
  async verify(ctx) {
    const inRegion = await listKeyIds(ctx.endpointMoto, [ctx.region]);
    const untracked = inRegion.filter((id) => !ctx.tracked.has(id));
    const problems = untracked.map((id) => `key ${id} in ${ctx.region} is tracked nowhere (orphan)`);
    if (inRegion.length !== 1) problems.push(`${inRegion.length} keys in ${ctx.region}, expected exactly 1`);
    return problems;
  },
};

const readOp: OpSpec = {
  name: "read",
  primary: "DescribeKey",
  prepare: (ctx) => newKey(ctx),
  async act(ctx, p) {
    const read = await ctx.provider.read(p.id!, p.outs!);
    // An empty answer means "gone": the engine would drop the key, and the next up would create a new one.
    if (read.id !== p.id) throw new Error(`UNEXPLAINED: read answered id ${String(read.id)} for key ${p.id}`);
    const props = read.props as Props;
    if (props.keyId !== p.id || props.keyState !== "Enabled") {
      throw new Error(`UNEXPLAINED: read answered ${JSON.stringify(props)}`);
    }
  },
  async again(ctx, p) {
    await readOp.act(ctx, p);
  },
  async verify(ctx, p) {
    const key = await motoKey(ctx, p.id!);
    return key?.KeyState === "Enabled" ? [] : [`key ${p.id} is ${key?.KeyState ?? "gone"}`];
  },
};

/** The import option: KmsKey passes it as importKeyId and the provider adopts the key in create (no CreateKey). */
const adoptOp: OpSpec = {
  name: "import (adopt, pending deletion)",
  primary: "CancelKeyDeletion",
  async prepare(ctx) {
    const p = await newKey(ctx);
    await ctx.moto.send(new ScheduleKeyDeletionCommand({ KeyId: p.id!, PendingWindowInDays: 7 }));
    // By the ARN a user would paste.
    return { ...p, news: await check(ctx, { importKeyId: p.arn, description: "adopted", deletionWindowInDays: 7 }) };
  },
  async act(ctx, p) {
    const adopted = await ctx.provider.create(p.news!);
    const outs = adopted.outs as Props;
    if (adopted.id !== p.id || outs.keyState !== "Enabled" || outs.description !== "adopted") {
      throw new Error(`UNEXPLAINED: adopting ${p.id} answered ${adopted.id}: ${JSON.stringify(outs)}`);
    }
  },
  async again(ctx, p, error) {
    if (error.id === undefined) return adoptOp.act(ctx, p);
    // The engine kept the key the error carried: the next up refreshes it and updates.
    const refreshed = await ctx.provider.read(error.id, error.properties ?? {});
    await ctx.provider.update(error.id, refreshed.props as Props, p.news!);
  },
  async verify(ctx, p) {
    const key = await motoKey(ctx, p.id!);
    if (key?.KeyState !== "Enabled" || key.Description !== "adopted") {
      return [`key ${p.id} is ${key?.KeyState ?? "gone"} with description ${key?.Description}`];
    }
    return [];
  },
};

function updateOp(from: string): OpSpec {
  const primary: Record<string, string> = {
    Enabled: "UpdateKeyDescription",
    Disabled: "EnableKey",
    PendingDeletion: "CancelKeyDeletion",
    PendingReplicaDeletion: "CancelKeyDeletion",
    PendingImport: "UpdateKeyDescription",
  };
  const refusing = REFUSING_STATES.includes(from);
  // A key with imported material that is gone can't be enabled: declare it disabled to make a change possible.
  const declared = { description: "after", enabled: from !== "PendingImport" };
  const reachedState = from === "PendingImport" ? "PendingImport" : "Enabled";
  return {
    name: `update from ${from}`,
    primary: primary[from] ?? "DescribeKey",
    from,
    async prepare(ctx) {
      const p = await newKey(ctx);
      const id = p.id!;
      if (from === "Disabled") await ctx.moto.send(new DisableKeyCommand({ KeyId: id }));
      if (from === "PendingDeletion" || from === "PendingReplicaDeletion") {
        await ctx.moto.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
      }
      if (!["Enabled", "Disabled", "PendingDeletion"].includes(from)) ctx.proxy.overrideKeyState(id, from);
      // A key in a state that refuses changes: right after a refresh, update() refuses from that read without calling
      // KMS, so the cell is `up` without --refresh: the state an earlier run recorded, and update's own DescribeKey.
      if (refusing) return { ...p, news: await check(ctx, declared, p.outs!) };
      // The refresh before the update: the engine hands update() what read() reported.
      const refreshed = await ctx.provider.read(id, p.outs!);
      const props = refreshed.props as Props;
      if (props.keyState !== from) throw new Error(`setup: key is ${String(props.keyState)}, not ${from}`);
      return { ...p, outs: props, news: await check(ctx, declared, props) };
    },
    async act(ctx, p) {
      const updated = await ctx.provider.update(p.id!, p.outs!, p.news!);
      const outs = updated.outs as Props;
      if (outs.keyState !== reachedState || outs.description !== "after" || outs.keyId !== p.id) {
        throw new Error(`UNEXPLAINED: update answered ${JSON.stringify(outs)}`);
      }
    },
    async again(ctx, p, error) {
      // The engine keeps what the error carries (or the old state) and refreshes before the next update.
      const olds = error.properties ?? p.outs!;
      const refreshed = await ctx.provider.read(p.id!, olds);
      if (refreshed.id !== p.id) throw new Error(`UNEXPLAINED: the refresh after the error lost key ${p.id}`);
      p.outs = refreshed.props as Props;
      try {
        await this.act(ctx, p);
      } catch (err) {
        if (!(refusing && (err as Error).message.includes(`is ${from}`))) throw err;
      }
    },
    async verify(ctx, p) {
      const key = await motoKey(ctx, p.id!);
      if (!key) return [`key ${p.id} is gone`];
      const problems: string[] = [];
      const wantDescription = refusing ? "before" : "after";
      if (key.Description !== wantDescription) problems.push(`description is ${key.Description}`);
      if (!refusing && from !== "PendingImport" && key.KeyState !== "Enabled") {
        problems.push(`key is ${key.KeyState}, declared enabled`);
      }
      return problems;
    },
  };
}

const deleteOp: OpSpec = {
  name: "delete",
  primary: "ScheduleKeyDeletion",
  prepare: (ctx) => newKey(ctx),
  async act(ctx, p) {
    await ctx.provider.delete(p.id!, p.outs!);
  },
  async again(ctx, p) {
    await deleteOp.act(ctx, p);
  },
  async verify(ctx, p) {
    const key = await motoKey(ctx, p.id!);
    return key?.KeyState === "PendingDeletion" ? [] : [`key ${p.id} is ${key?.KeyState ?? "gone"}`];
  },
};

const OPERATIONS: OpSpec[] = [createOp, readOp, adoptOp, ...UPDATE_FROM.map(updateOp), deleteOp];

function expectedOutcome(op: OpSpec, kind: FaultKind, mode: Mode): Outcome {
  const refusing = op.from !== undefined && REFUSING_STATES.includes(op.from);
  if (kind === "accessDenied") return "clear error";
  if (mode === "burst" || kind === "delay") return refusing ? "refused" : "completed";
  // Every CreateKey attempt reaches KMS; the ListKeys lookup finds the key the first one made.
  if (kind === "resetAfter" && op.name === "create") return "completed";
  return "clear error";
}

/** Why a message is not clear, or undefined when it names the operation, the key and the cause in one plain line. */
function unclear(message: string, kind: FaultKind, keyId: string | undefined): string | undefined {
  if (!KMS_OPERATION.test(message)) return "names no KMS operation";
  if (keyId && !message.includes(keyId)) return "does not name the key";
  if (!CAUSE[kind].test(message)) return `does not say ${CAUSE[kind]}`;
  if (/\[object Object\]|\bundefined\b|\bnull\b/.test(message)) return "holds a placeholder";
  if (/SyntaxError|Deserialization error|\$response|\n/.test(message))
    return "is an SDK parse error, not what KMS said";
  return undefined;
}

interface RunResult {
  outcome: Outcome;
  /** Wrong results: a key lost, duplicated, recreated or left in the wrong state; a next run that failed. */
  problems: string[];
  /** Why the error message is not clear, when it is not. */
  unclearBecause?: string;
  message?: string;
  faultsApplied: number;
  createKeyCalls: number;
  seconds: number;
}

const messages: string[] = [];

async function runOnce(
  moto: KmsServer,
  op: OpSpec,
  kind: FaultKind,
  mode: Mode,
  region: string,
  tracked: Set<string>,
): Promise<RunResult> {
  const started = Date.now();
  const proxy = await KmsProxy.start({ target: moto.endpoint });
  // A new proxy is a new endpoint, hence a new cached SDK client: each run starts with a full retry quota, as a
  // new provider process would.
  const ctx: Ctx = {
    provider: new KmsKeyProvider(),
    proxy,
    endpoint: proxy.endpoint,
    endpointMoto: moto.endpoint,
    region,
    moto: outOfBand(moto.endpoint, region),
    label: `${op.name} x ${kind} (${mode})`,
    tracked,
  };
  const problems: string[] = [];
  let outcome: Outcome;
  let message: string | undefined;
  let unclearBecause: string | undefined;
  let faultsApplied = 0;
  let createKeyCalls = 0;
  try {
    const p = await op.prepare(ctx);
    proxy.resetCounts();
    if (kind === "accessDenied") proxy.addFault({ operation: op.primary, kind });
    else if (mode === "burst") {
      for (const operation of PROVIDER_APIS) proxy.addFault({ operation, kind, times: 2, delayMs: 300 });
    } else proxy.addFault({ operation: op.primary, kind, delayMs: 300 });

    let error: ErrorWithState | undefined;
    try {
      await op.act(ctx, p);
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
    }
    faultsApplied = Object.values(proxy.faultsApplied()).reduce((a, b) => a + b, 0);
    proxy.clearFaults();

    if (!error) outcome = "completed";
    else {
      message = error.message;
      messages.push(message, JSON.stringify(error.properties ?? {}));
      const keyId = op.name === "create" ? undefined : p.id;
      if (error.id !== undefined && error.id !== p.id) problems.push(`the error carries another key's id ${error.id}`);
      if (/^UNEXPLAINED/.test(message)) outcome = "unexplained";
      else if (op.from && REFUSING_STATES.includes(op.from) && message.includes(`${p.id} is ${op.from}`)) {
        outcome = "refused";
      } else {
        unclearBecause = unclear(message, kind, keyId);
        outcome = unclearBecause ? "unclear error" : "clear error";
      }
      // The next run, faults gone, must finish the job.
      try {
        await op.again(ctx, p, error);
      } catch (err) {
        problems.push(`the next run failed: ${(err as Error).message}`);
      }
    }
    problems.push(...(await op.verify(ctx, p)));
    createKeyCalls = op.name === "create" ? 0 : proxy.calls("CreateKey");
    if (createKeyCalls > 0) problems.push(`${createKeyCalls} CreateKey calls for an existing key`);
  } catch (err) {
    outcome = "unexplained";
    problems.push(`setup or check failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    ctx.moto.destroy();
    await proxy.stop();
  }
  return {
    outcome,
    problems,
    unclearBecause,
    message,
    faultsApplied,
    createKeyCalls,
    seconds: (Date.now() - started) / 1000,
  };
}

describe("faults: every operation under every fault kind (provider level)", function () {
  this.timeout(900_000);
  let moto: KmsServer;
  const tracked = new Set<string>();
  const results = new Map<string, { burst?: RunResult; persistent?: RunResult }>();
  const saved: Record<string, string | undefined> = {};

  before(async function () {
    this.timeout(900_000);
    for (const name of ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_ENDPOINT_URL_STS"]) saved[name] = process.env[name];
    useFakeCredentials();
    // 4 attempts: a burst of 2 faults is survived, a persistent fault gives up in seconds. Retry mode: the default.
    process.env.AWS_MAX_ATTEMPTS = "4";
    delete process.env.AWS_RETRY_MODE;
    moto = await startKmsServer();
    // The run's account, asked when a key can't be seen, comes from moto's STS.
    process.env.AWS_ENDPOINT_URL_STS = moto.endpoint;

    const runs: { op: OpSpec; kind: FaultKind; mode: Mode; region: string }[] = [];
    let createIndex = 0;
    for (const op of OPERATIONS) {
      for (const kind of KINDS) {
        const modes: Mode[] = kind === "accessDenied" ? ["persistent"] : ["burst", "persistent"];
        for (const mode of modes) {
          const region = op.name === "create" ? CREATE_REGIONS[createIndex++] : SHARED_REGION;
          runs.push({ op, kind, mode, region });
        }
      }
    }
    const started = Date.now();
    await mapBounded(runs, 12, async (run) => {
      const result = await runOnce(moto, run.op, run.kind, run.mode, run.region, tracked);
      const key = `${run.op.name}|${run.kind}`;
      results.set(key, { ...results.get(key), [run.mode]: result });
    });
    figures.matrixSeconds = (Date.now() - started) / 1000;
    for (const op of OPERATIONS) {
      for (const kind of KINDS) {
        const r = results.get(`${op.name}|${kind}`) ?? {};
        const cell: MatrixCell = {
          operation: op.name,
          kind,
          burst: r.burst?.outcome,
          persistent: r.persistent?.outcome,
          seconds: (r.burst?.seconds ?? 0) + (r.persistent?.seconds ?? 0),
        };
        figures.matrix.push(cell);
      }
    }
    for (const kind of KINDS) {
      const sample = results.get(`read|${kind}`)?.persistent?.message;
      if (sample) figures.sampleErrors.set(kind, sample);
    }
    figures.notes.push(
      'The AWS SDK names a dropped connection (ECONNRESET) "TimeoutError: socket hang up"; the provider passes that on as is.',
    );
    const refusal = results.get("update from Unavailable|throttle")?.burst?.message;
    if (refusal) figures.sampleErrors.set("(refusal)", refusal);
  });

  after(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await moto?.stop();
  });

  for (const op of OPERATIONS) {
    for (const kind of KINDS) {
      it(`${op.name} under ${kind}: ${describeExpectation(op, kind)}`, async () => {
        const r = results.get(`${op.name}|${kind}`);
        expect(r, "the run happened").to.not.equal(undefined);
        for (const mode of ["burst", "persistent"] as Mode[]) {
          if (kind === "accessDenied" && mode === "burst") continue;
          const run = r![mode];
          expect(run, `${mode} run`).to.not.equal(undefined);
          expect(run!.faultsApplied, `${mode}: faults were injected`).to.be.greaterThan(0);
          expect(run!.problems, `${mode}: nothing lost, duplicated or left wrong`).to.deep.equal([]);
          const outcome = () => {
            const why = run!.unclearBecause ? ` (message ${run!.unclearBecause})` : "";
            expect(run!.outcome, `${mode}: ${run!.message ?? ""}${why}`).to.equal(expectedOutcome(op, kind, mode));
          };
          outcome();
        }
      });
    }
  }

  it("leaves no orphaned key: every key in KMS is one the provider returned or an error carried", async () => {
    const all = await listKeyIds(moto.endpoint, [SHARED_REGION, ...CREATE_REGIONS]);
    const orphans = all.filter((id) => !tracked.has(id));
    figures.orphans.provider = orphans.length;
    expect(all.length, "keys made").to.be.greaterThan(100);
    expect(orphans).to.deep.equal([]);
  });

  it("recreates no key: no CreateKey for a key that exists, whatever the fault", () => {
    let calls = 0;
    for (const r of results.values()) calls += (r.burst?.createKeyCalls ?? 0) + (r.persistent?.createKeyCalls ?? 0);
    figures.recreated.provider = calls;
    expect(calls).to.equal(0);
  });

  it("puts no credential in any error message or partial state the faults produced", () => {
    expect(messages.length, "errors collected").to.be.greaterThan(50);
    const found = scanForSecrets("fault-matrix error messages", messages.join("\n"));
    expect(found).to.deep.equal([]);
  });
});

function describeExpectation(op: OpSpec, kind: FaultKind): string {
  const burst = kind === "accessDenied" ? undefined : expectedOutcome(op, kind, "burst");
  const persistent = expectedOutcome(op, kind, "persistent");
  return burst ? `burst ${burst}, persistent ${persistent}` : persistent;
}
