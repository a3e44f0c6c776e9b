// KMS calls per key: the provider's methods called in this process in the order the engine calls them, counted at
// the proxy (without its own key-state lookups), with no quota and no fault.
import { KmsKeyProvider } from "../sdk";
import { byOperation, LocalKms, round } from "./support";
import { keyStates, scheduleDeletions } from "../testing/kms/out-of-band";

type Props = Record<string, unknown>;

interface PhaseCalls {
  /** Requests per key. */
  perKey: number;
  /** Requests per key, by operation. */
  byOperation: Record<string, number>;
}

interface CallsResult {
  keys: number;
  create: PhaseCalls;
  refresh: PhaseCalls;
  diff: PhaseCalls;
  recover: PhaseCalls;
  updateTag: PhaseCalls;
  delete: PhaseCalls;
}

/** What the benchmark's keys declare (as its Pulumi program does). */
export const BENCH_KEY = { description: "bench key", deletionWindowInDays: 7 };

export async function measureCalls(kms: LocalKms, keys: number): Promise<CallsResult> {
  const provider = new KmsKeyProvider();
  const checked = async (news: Props) => {
    const result = await provider.check({}, news);
    if (result.failures?.length) throw new Error(`check failed: ${JSON.stringify(result.failures)}`);
    return result.inputs as Props;
  };
  const inputs = await checked(BENCH_KEY);
  const phase = async (work: () => Promise<void>): Promise<PhaseCalls> => {
    kms.proxy.resetCounts();
    await work();
    const counts = byOperation(kms.proxy.callLog);
    const failed = kms.proxy.callLog.filter((entry) => entry.status !== 200);
    if (failed.length > 0) throw new Error(`a call failed while counting: ${JSON.stringify(failed[0])}`);
    return {
      perKey: round(kms.proxy.calls() / keys),
      byOperation: Object.fromEntries(Object.entries(counts).map(([op, n]) => [op, round(n / keys)])),
    };
  };

  const made: { id: string; outs: Props }[] = [];
  const create = await phase(async () => {
    for (let i = 0; i < keys; i++) {
      const { id, outs } = await provider.create(inputs);
      made.push({ id, outs: outs as Props });
    }
  });
  const ids = made.map((key) => key.id);
  const refresh = await phase(async () => {
    for (const key of made) await provider.read(key.id, key.outs);
  });
  const diff = await phase(async () => {
    for (const key of made) {
      if ((await provider.diff(key.id, key.outs, inputs)).changes) throw new Error(`diff of ${key.id} found changes`);
    }
  });

  // Recovery, as `pulumi up --refresh` does it: refresh reads the key, diff compares, update brings it back.
  await scheduleDeletions(kms.direct, ids);
  const recover = await phase(async () => {
    for (const key of made) {
      const read = await provider.read(key.id, key.outs);
      const olds = read.props as Props;
      if (!(await provider.diff(key.id, olds, inputs)).changes) throw new Error(`diff of ${key.id} saw no deletion`);
      key.outs = (await provider.update(key.id, olds, inputs)).outs as Props;
    }
  });
  const states = await keyStates(kms.direct, ids);
  if (states.some((state) => state !== "Enabled")) throw new Error(`keys not recovered: ${states.join(", ")}`);

  const tagged = await checked({ ...BENCH_KEY, tags: { team: "bench" } });
  const updateTag = await phase(async () => {
    for (const key of made) {
      if (!(await provider.diff(key.id, key.outs, tagged)).changes) throw new Error(`diff of ${key.id} saw no tag`);
      key.outs = (await provider.update(key.id, key.outs, tagged)).outs as Props;
    }
  });

  const deleted = await phase(async () => {
    for (const key of made) await provider.delete(key.id, key.outs);
  });
  const after = await keyStates(kms.direct, ids);
  if (after.some((state) => state !== "PendingDeletion")) throw new Error(`keys not deleted: ${after.join(", ")}`);

  return { keys, create, refresh, diff, recover, updateTag, delete: deleted };
}
