// How the SDK's retry mode and the engine's parallelism shape the time to create and to recover keys under AWS's
// quotas. Each run is a process of its own that calls the provider as the engine's provider host does: P
// operations at once, one KMS client per process (the provider's own cache), a fresh host per `pulumi up`.
//
// Usage (as a worker): node retry-study.js '<JSON of HostRun>'; prints a JSON HostResult on its last line.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { KmsKeyProvider } from "../sdk";
import { AWS_KMS_QUOTAS } from "../provider/kms/quotas";
import { BENCH_KEY } from "./calls";
import { quotaFloorSeconds } from "./floors";
import { LocalKms, round, secondsSince, throttled } from "./support";
import { mapBounded } from "../cli/pool";
import { keyStates, scheduleDeletions } from "../testing/kms/out-of-band";

type Props = Record<string, unknown>;

interface HostRun {
  phase: "create" | "recover";
  /** Keys to create, or the keys to recover with their last outputs. */
  count?: number;
  keys?: { id: string; outs: Props }[];
  parallel: number;
  env: Record<string, string>;
}

interface HostResult {
  seconds: number;
  errors: string[];
  keys: { id: string; outs: Props }[];
}

export interface RetryStudyRow {
  /** Whether the proxy applied AWS's quotas (false: the same run's engine-free baseline). */
  quotas: boolean;
  retryMode: string;
  /** Operations at once, as `pulumi up --parallel`; "unbounded" is the engine's default. */
  parallel: number | "unbounded";
  keys: number;
  createSeconds: number;
  createThrottled: number;
  recoverSeconds: number;
  recoverThrottled: number;
  /** quotaFloorSeconds(N): both phases' floor under the quotas. */
  floorSeconds: number;
  errors: number;
  /** The first error's message, when there was one. */
  firstError?: string;
  /** Keys recovered with their own ID and Enabled. */
  recovered: number;
}

async function host(run: HostRun): Promise<HostResult> {
  Object.assign(process.env, run.env);
  const provider = new KmsKeyProvider();
  const inputs = (await provider.check({}, BENCH_KEY)).inputs as Props;
  const errors: string[] = [];
  const started = performance.now();
  let keys: { id: string; outs: Props }[];
  if (run.phase === "create") {
    const made = await mapBounded(Array.from({ length: run.count ?? 0 }), run.parallel, async () =>
      provider.create(inputs).then(
        (created) => ({ id: created.id, outs: created.outs as Props }),
        (err: unknown) => {
          errors.push(String(err));
          return undefined;
        },
      ),
    );
    keys = made.filter((key): key is { id: string; outs: Props } => key !== undefined);
  } else {
    keys = await mapBounded(run.keys ?? [], run.parallel, async (key) => {
      try {
        const read = await provider.read(key.id, key.outs);
        const olds = read.props as Props;
        if (!(await provider.diff(key.id, olds, inputs)).changes) return { id: key.id, outs: olds };
        return { id: key.id, outs: (await provider.update(key.id, olds, inputs)).outs as Props };
      } catch (err) {
        errors.push(String(err));
        return key;
      }
    });
  }
  return { seconds: secondsSince(started), errors, keys };
}

async function inOwnProcess(run: HostRun): Promise<HostResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [__filename, JSON.stringify(run)], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as HostResult;
}

/** One row: create `keys` keys, schedule them all for deletion, recover them, each phase in a fresh host. */
export async function studyRetries(
  kms: LocalKms,
  keys: number,
  retryMode: string,
  parallel: number | "unbounded",
  quotas = true,
): Promise<RetryStudyRow> {
  const env = {
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
    AWS_RETRY_MODE: retryMode,
    AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
  };
  const p = parallel === "unbounded" ? keys : parallel;
  kms.proxy.setQuotas(quotas ? AWS_KMS_QUOTAS : {});
  try {
    kms.proxy.resetCounts();
    const created = await inOwnProcess({ phase: "create", count: keys, parallel: p, env });
    const createThrottled = throttled(kms.proxy);
    const ids = created.keys.map((key) => key.id);
    await scheduleDeletions(kms.direct, ids);
    kms.proxy.resetCounts();
    const recovered = await inOwnProcess({ phase: "recover", keys: created.keys, parallel: p, env });
    const recoverThrottled = throttled(kms.proxy);
    const states = await keyStates(kms.direct, ids);
    const sameAndEnabled = recovered.keys.filter((key, i) => key.id === ids[i] && states[i] === "Enabled").length;
    return {
      quotas,
      retryMode,
      parallel,
      keys,
      createSeconds: round(created.seconds),
      createThrottled,
      recoverSeconds: round(recovered.seconds),
      recoverThrottled,
      floorSeconds: quotaFloorSeconds(keys),
      errors: created.errors.length + recovered.errors.length,
      ...(created.errors.length + recovered.errors.length > 0
        ? { firstError: [...created.errors, ...recovered.errors][0].slice(0, 300) }
        : {}),
      recovered: sameAndEnabled,
    };
  } finally {
    kms.proxy.setQuotas({});
  }
}

if (require.main === module) {
  host(JSON.parse(process.argv[2]) as HostRun).then(
    (result) => {
      process.stdout.write(`\n${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
