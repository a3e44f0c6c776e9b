// The real engine, run the way users run it: bench/project as a project folder, `pulumi up` in it, the Pulumi CLI and
// the Node.js language host on PATH, against moto through the counting proxy.
import * as fs from "node:fs";
import { AWS_KMS_QUOTAS } from "../provider/kms/quotas";
import { DEFAULT_MAX_ATTEMPTS } from "../provider/kms/client";
import { familyFloorSeconds, FamilyPhase, leadBoundSeconds, quotaFloorSeconds } from "./floors";
import { byOperation, LocalKms, round, throttled } from "./support";
import { KMS_REPLICA_KEY_TYPE } from "../cli/drift";
import { describeKey, keyStates, outOfBand, scheduleDeletion, scheduleDeletions } from "../testing/kms/out-of-band";
import { mapBounded } from "../cli/pool";
import { CommandResult, Project } from "../testing/pulumi/project";
import { StateResource } from "../testing/pulumi/state";
import { LEGS } from "../testing/versions";

/** The versions users run now: the newest leg of versions.json. */
const BENCH_LEG = LEGS.newest;

export interface EngineRow {
  keys: number;
  upSeconds: number;
  refreshSeconds: number;
  recoverSeconds: number;
  noopUpSeconds: number;
  destroySeconds: number;
  /** `pulumi up` of as many no-op dynamic resources: the engine's own cost. */
  noopResourceUpSeconds: number;
  /** Peak resident memory (VmHWM) of the dynamic provider host over the KmsKey runs. */
  hostPeakMiB: number;
  /** Bytes of one KmsKey's entry in the exported state, on average. */
  stateBytesPerKey: number;
  /** Seconds per key of each step. */
  perKey: { up: number; refresh: number; recover: number; noopUp: number; destroy: number; noopResourceUp: number };
  /** Keys with the same ID and Enabled after the recovery. */
  recovered: number;
  errors: number;
}

/**
 * The commands a stack's keys are recovered with: the one pipelines run, and the one whose refresh reads each key as
 * the program declares it (the engine's inline refresh, Pulumi CLI 3.169 and later), so that quota-bound calls start
 * while the other keys are still read.
 */
export const RECOVERY_COMMANDS: readonly (readonly string[])[] = [
  ["up", "--refresh"],
  ["up", "--refresh", "--run-program", "--skip-preview"],
];

/** The request each phase's quota binds: the floor counts these. */
const QUOTA_BOUND = { create: "CreateKey", recover: "CancelKeyDeletion" } as const;

export interface QuotaRow {
  keys: number;
  phase: "create" | "recover";
  /** The pulumi command measured, e.g. "up --refresh". */
  command: string;
  /** Which of the benchmark's runs of this size (1, 2, 3). */
  run: number;
  /** Under AWS's quotas. */
  seconds: number;
  /** The same run without quotas. */
  withoutQuotaSeconds: number;
  /** quotaFloorSeconds(N): CreateKey, and CancelKeyDeletion then EnableKey pipelined, at their quota. */
  floorSeconds: number;
  /** seconds / max(floorSeconds, withoutQuotaSeconds). */
  ratio: number;
  /** In the run without quotas, the seconds from the command's start to its first quota-bound request. */
  leadSeconds: number;
  /**
   * The ratio of a run that spends leadSeconds before its first quota-bound request and then makes them all at the
   * quota after KMS's one second of burst: what no provider under this engine can beat.
   */
  ratioBound: number;
  throttled: number;
  /** Error lines the engine showed (plus a failed exit). */
  errors: number;
  /** Keys with the same ID and Enabled after the recovery (create rows: keys made). */
  sameAndEnabled: number;
}

/** The median and the worst of a size's runs, per phase and command. */
export interface QuotaSummary {
  keys: number;
  phase: QuotaRow["phase"];
  command: string;
  runs: number;
  medianRatio: number;
  worstRatio: number;
  medianRatioBound: number;
  errors: number;
  /** The fewest keys the same and Enabled in any run. */
  sameAndEnabled: number;
}

/** One phase of N key families (primary, replica, alias) with AWS's quotas against the same run without them. */
export interface FamilyRow {
  families: number;
  phase: FamilyPhase;
  seconds: number;
  withoutQuotaSeconds: number;
  /** familyFloorSeconds(N, phase): the slowest quota bucket of the phase's calls. */
  floorSeconds: number;
  /** seconds / max(floorSeconds, withoutQuotaSeconds). */
  ratio: number;
  /** KMS requests per resource (3 per family), and by operation per family, in the run without quotas. */
  callsPerResource: number;
  byOperation: Record<string, number>;
  throttled: number;
  errors: number;
  /** Families whose two keys have the same ARNs and are Enabled after the recovery (create: resources made / 3). */
  sameAndEnabled: number;
}

/** What one stack's family run measured, phase by phase. */
interface FamilyRun {
  phases: Record<
    FamilyPhase,
    { seconds: number; throttled: number; errors: number; calls: number; byOperation: Record<string, number> }
  >;
  made: number;
  sameAndEnabled: number;
}

type Timed = { seconds: number; result: CommandResult; throttled: number };

/** One timed command of a keys run. */
interface Measured {
  seconds: number;
  throttled: number;
  errors: number;
  /** Seconds from the command's start to the arrival of its first quota-bound request (NaN if it made none). */
  leadSeconds: number;
}

/** What one stack's create-then-recover run measured. */
export interface KeysRun {
  up: Measured;
  refreshSeconds?: number;
  /** One recovery per RECOVERY_COMMANDS entry, in its order, each of every key scheduled for deletion. */
  recoveries: (Measured & { command: string; sameAndEnabled: number })[];
  noopUpSeconds?: number;
  destroySeconds?: number;
  made: number;
  stateBytesPerKey: number;
  hostPeakMiB: number;
}

/** Error lines a person would see in the engine's output, plus one for a failed exit without any. */
function errorsShown(result: CommandResult): number {
  const lines = `${result.stdout}\n${result.stderr}`.split("\n").filter((line) => /^\s*error:/i.test(line));
  return lines.length + (result.code !== 0 && lines.length === 0 ? 1 : 0);
}

/**
 * Peak memory of the dynamic provider hosts a project's commands start: every 200 ms, the VmHWM of each process
 * whose command line is the dynamic provider and whose environment is this project's (other runs share the machine).
 */
class HostMemory {
  private peakKiB = 0;
  private readonly ours = new Map<number, boolean>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pulumiHome: string) {}

  start(): void {
    this.timer ??= setInterval(() => this.sample(), 200);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  get peakMiB(): number {
    return round(this.peakKiB / 1024, 1);
  }

  reset(): void {
    this.peakKiB = 0;
  }

  private sample(): void {
    for (const entry of fs.readdirSync("/proc")) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      try {
        let ours = this.ours.get(pid);
        if (ours === undefined) {
          const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "latin1");
          if (!/dynamic-provider/.test(cmdline)) continue;
          ours = fs
            .readFileSync(`/proc/${pid}/environ`, "latin1")
            .split("\0")
            .includes(`PULUMI_HOME=${this.pulumiHome}`);
          this.ours.set(pid, ours);
        }
        if (!ours) continue;
        const hwm = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "latin1"));
        if (hwm) this.peakKiB = Math.max(this.peakKiB, Number(hwm[1]));
      } catch {
        // the process ended between listing and reading
      }
    }
  }
}

export class EngineBench {
  private stacks = 0;

  private constructor(
    private readonly kms: LocalKms,
    readonly project: Project,
    private readonly memory: HostMemory,
  ) {}

  /** Packs this repository and installs it into a copy of bench/project, as a user's program would have it. */
  static async create(kms: LocalKms): Promise<EngineBench> {
    const project = await Project.create("bench/project", BENCH_LEG, {
      kmsEndpoint: kms.endpoint,
      // The provider's own retry settings, as a user has them (the test harness lowers them).
      env: { AWS_MAX_ATTEMPTS: String(DEFAULT_MAX_ATTEMPTS) },
    });
    return new EngineBench(kms, project, new HostMemory(project.env.PULUMI_HOME));
  }

  versions(): Record<string, string> {
    const v = this.project.tools.versions;
    return {
      "pulumi CLI": v.cli,
      "program @pulumi/pulumi": this.project.installedVersion("@pulumi/pulumi"),
      "program node": v.node,
      languageHost: v.languageHost,
    };
  }

  private async newStack(config: Record<string, string>): Promise<string> {
    const name = `bench${++this.stacks}`;
    await this.project.stackInit(name);
    const pairs = Object.entries(config).flatMap(([key, value]) => ["--plaintext", `${key}=${value}`]);
    await this.project.pulumiOk(["config", "set-all", ...pairs]);
    return name;
  }

  /** One `pulumi` command, timed, with the proxy's counts reset before it. */
  private async timed(args: string[]): Promise<Timed> {
    return (await this.measured(args)).timed;
  }

  /** timed(), and when the command's first `quotaBound` request arrived at the proxy. */
  private async measured(args: string[], quotaBound?: string): Promise<{ timed: Timed; measured: Measured }> {
    this.kms.proxy.resetCounts();
    this.memory.start();
    const startedAt = Date.now();
    const started = performance.now();
    const result = await this.project.pulumi(args);
    const seconds = round((performance.now() - started) / 1000);
    this.memory.stop();
    // The log is in completion order; the lead ends when the first of them arrived.
    const first = Math.min(...this.kms.proxy.callLog.filter((call) => call.operation === quotaBound).map((c) => c.at));
    const timed = { seconds, result, throttled: throttled(this.kms.proxy) };
    return {
      timed,
      measured: {
        seconds,
        throttled: timed.throttled,
        errors: errorsShown(result),
        leadSeconds: Number.isFinite(first) ? round((first - startedAt) / 1000) : Number.NaN,
      },
    };
  }

  private async keyResources(): Promise<StateResource[]> {
    return this.project.keys();
  }

  /**
   * N keys made by one `pulumi up`, then, for each of RECOVERY_COMMANDS, all scheduled for deletion behind the
   * program's back and recovered by that command; with `full`, also a refresh, a no-op up and a destroy.
   */
  async keysRun(keys: number, options: { quotas: boolean; full: boolean }): Promise<KeysRun> {
    await this.newStack({ keys: String(keys), resource: "kms" });
    this.kms.proxy.setQuotas(options.quotas ? AWS_KMS_QUOTAS : {});
    this.memory.reset();
    try {
      const up = await this.measured(["up", "--yes"], QUOTA_BOUND.create);
      const made = await this.keyResources();
      const ids = made.map((key) => key.id ?? "");
      const stateBytesPerKey = Math.round(
        made.reduce((total, key) => total + JSON.stringify(key).length, 0) / Math.max(1, made.length),
      );
      const refresh = options.full ? await this.timed(["refresh", "--yes"]) : undefined;
      const recoveries: KeysRun["recoveries"] = [];
      for (const command of RECOVERY_COMMANDS) {
        await scheduleDeletions(this.kms.direct, ids);
        const recover = await this.measured([...command, "--yes"], QUOTA_BOUND.recover);
        const after = new Map((await this.keyResources()).map((key) => [key.urn, key.id]));
        const states = await keyStates(this.kms.direct, ids);
        recoveries.push({
          ...recover.measured,
          command: command.join(" "),
          errors: recover.measured.errors + (refresh && recoveries.length === 0 ? errorsShown(refresh.result) : 0),
          sameAndEnabled: made.filter((key, i) => after.get(key.urn) === key.id && states[i] === "Enabled").length,
        });
      }
      const noopUp = options.full ? await this.timed(["up", "--yes"]) : undefined;
      const destroy = options.full ? await this.timed(["destroy", "--yes"]) : undefined;
      return {
        up: up.measured,
        refreshSeconds: refresh?.seconds,
        recoveries,
        noopUpSeconds: noopUp?.seconds,
        destroySeconds: destroy?.seconds,
        made: made.length,
        stateBytesPerKey,
        hostPeakMiB: this.memory.peakMiB,
      };
    } finally {
      this.kms.proxy.setQuotas({});
    }
  }

  /**
   * N key families made by one `pulumi up`; every replica, then every primary, scheduled for deletion behind the
   * program's back (the primaries then wait in PendingReplicaDeletion); one `pulumi up --refresh`; one destroy.
   */
  async familyRun(families: number, options: { quotas: boolean }): Promise<FamilyRun> {
    await this.newStack({ keys: String(families), resource: "family", replicaRegion: "eu-west-1" });
    this.kms.proxy.setQuotas(options.quotas ? AWS_KMS_QUOTAS : {});
    const direct = (region: string) => outOfBand(this.kms.server.endpoint, region);
    const clients = { "us-east-1": direct("us-east-1"), "eu-west-1": direct("eu-west-1") };
    const phase = async (args: string[]) => {
      const run = await this.timed(args);
      const log = this.kms.proxy.callLog;
      const counts = byOperation(log);
      return {
        seconds: run.seconds,
        throttled: run.throttled,
        errors: errorsShown(run.result),
        calls: log.length,
        byOperation: Object.fromEntries(Object.entries(counts).map(([op, n]) => [op, round(n / families)])),
      };
    };
    try {
      const create = await phase(["up", "--yes"]);
      const keys = await this.project.allKeys();
      const made = keys.length + (await this.project.aliases()).length;
      const regionOf = (arn: string) => arn.split(":")[3] as keyof typeof clients;
      const arns = keys.map((key) => String(key.outputs?.arn));
      // Replicas first: a primary scheduled while its replica exists waits in PendingReplicaDeletion.
      const isReplica = (key: (typeof keys)[number]) => key.type === KMS_REPLICA_KEY_TYPE;
      for (const group of [keys.filter(isReplica), keys.filter((key) => !isReplica(key))]) {
        await mapBounded(group, 8, (key) =>
          // By ID in the key's own Region: moto answers 500 to ScheduleKeyDeletion by ARN.
          scheduleDeletion(clients[regionOf(String(key.outputs?.arn))], String(key.id)),
        );
      }
      const recover = await phase(["up", "--yes", "--refresh"]);
      const after = new Set((await this.project.allKeys()).map((key) => String(key.outputs?.arn)));
      const states = await mapBounded(
        arns,
        8,
        async (arn) => (await describeKey(clients[regionOf(arn)], arn)).KeyState,
      );
      const sameAndEnabled = arns.filter((arn, i) => after.has(arn) && states[i] === "Enabled").length / 2;
      const destroy = await phase(["destroy", "--yes"]);
      return { phases: { create, recover, destroy }, made, sameAndEnabled };
    } finally {
      this.kms.proxy.setQuotas({});
      for (const client of Object.values(clients)) client.destroy();
    }
  }

  /** `pulumi up` of N no-op dynamic resources. */
  async noopResourceUp(count: number): Promise<number> {
    await this.newStack({ keys: String(count), resource: "noop" });
    const up = await this.timed(["up", "--yes"]);
    if (up.result.code !== 0) throw new Error(`no-op up failed:\n${up.result.stdout}\n${up.result.stderr}`);
    return up.seconds;
  }

  async cleanup(): Promise<void> {
    this.memory.stop();
    await this.project.cleanup();
  }
}

export async function engineRow(bench: EngineBench, keys: number, run: KeysRun): Promise<EngineRow> {
  const noopResourceUpSeconds = await bench.noopResourceUp(keys);
  const perKey = (seconds: number | undefined) => round((seconds ?? 0) / keys, 3);
  return {
    keys,
    upSeconds: run.up.seconds,
    refreshSeconds: run.refreshSeconds ?? 0,
    recoverSeconds: run.recoveries[0].seconds,
    noopUpSeconds: run.noopUpSeconds ?? 0,
    destroySeconds: run.destroySeconds ?? 0,
    noopResourceUpSeconds,
    hostPeakMiB: run.hostPeakMiB,
    stateBytesPerKey: run.stateBytesPerKey,
    perKey: {
      up: perKey(run.up.seconds),
      refresh: perKey(run.refreshSeconds),
      recover: perKey(run.recoveries[0].seconds),
      noopUp: perKey(run.noopUpSeconds),
      destroy: perKey(run.destroySeconds),
      noopResourceUp: perKey(noopResourceUpSeconds),
    },
    recovered: run.recoveries[0].sameAndEnabled,
    errors: run.up.errors + run.recoveries[0].errors,
  };
}

/** A size's create and recovery rows: one run with AWS's quotas against the same run without them. */
export function quotaRows(keys: number, run: number, withQuotas: KeysRun, without: KeysRun): QuotaRow[] {
  const floorSeconds = quotaFloorSeconds(keys);
  const row = (
    phase: QuotaRow["phase"],
    command: string,
    measured: Measured,
    base: Measured,
    sameAndEnabled: number,
  ): QuotaRow => {
    const denominator = Math.max(floorSeconds, base.seconds);
    return {
      keys,
      phase,
      command,
      run,
      seconds: measured.seconds,
      withoutQuotaSeconds: base.seconds,
      floorSeconds,
      ratio: round(measured.seconds / denominator),
      leadSeconds: base.leadSeconds,
      ratioBound: round(leadBoundSeconds(keys, base.leadSeconds) / denominator),
      throttled: measured.throttled,
      errors: measured.errors,
      sameAndEnabled,
    };
  };
  return [
    row("create", "up", withQuotas.up, without.up, withQuotas.made),
    ...withQuotas.recoveries.map((recovery, i) =>
      row("recover", recovery.command, recovery, without.recoveries[i], recovery.sameAndEnabled),
    ),
  ];
}

/** The median and the worst ratio of each size, phase and command over its runs. */
export function summarizeQuotaRows(rows: readonly QuotaRow[]): QuotaSummary[] {
  const groups = new Map<string, QuotaRow[]>();
  for (const row of rows) {
    const key = JSON.stringify([row.keys, row.phase, row.command]);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()].map((group) => ({
    keys: group[0].keys,
    phase: group[0].phase,
    command: group[0].command,
    runs: group.length,
    medianRatio: median(group.map((row) => row.ratio)),
    worstRatio: Math.max(...group.map((row) => row.ratio)),
    medianRatioBound: median(group.map((row) => row.ratioBound)),
    errors: group.reduce((total, row) => total + row.errors, 0),
    sameAndEnabled: Math.min(...group.map((row) => row.sameAndEnabled)),
  }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : round((sorted[middle - 1] + sorted[middle]) / 2);
}

export function familyRows(families: number, withQuotas: FamilyRun, without: FamilyRun): FamilyRow[] {
  return (["create", "recover", "destroy"] as const).map((phase) => {
    const measured = withQuotas.phases[phase];
    const base = without.phases[phase].seconds;
    const floorSeconds = round(familyFloorSeconds(families, phase));
    return {
      families,
      phase,
      seconds: measured.seconds,
      withoutQuotaSeconds: base,
      floorSeconds,
      ratio: round(measured.seconds / Math.max(floorSeconds, base)),
      // Counted in the run without quotas: no throttled attempt among them.
      callsPerResource: round(without.phases[phase].calls / (3 * families)),
      byOperation: without.phases[phase].byOperation,
      throttled: measured.throttled,
      errors: measured.errors,
      sameAndEnabled: phase === "create" ? Math.round(withQuotas.made / 3) : withQuotas.sameAndEnabled,
    };
  });
}
