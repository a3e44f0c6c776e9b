// The floors the benchmark measures against, written once: the printed tables, the Markdown report and the quota rows
// all read them here.
import { AWS_KMS_QUOTAS } from "../provider/kms/quotas";

/** The phases of a key's life whose KMS calls are counted, in the engine's order. */
export const PHASES = ["create", "refresh", "diff", "recover", "updateTag", "delete"] as const;
export type Phase = (typeof PHASES)[number];

/** The fewest KMS calls per key each phase can make, and what they are where that is not plain. */
export const CALL_FLOORS: Readonly<Record<Phase, { calls: number; of?: string }>> = {
  create: { calls: 1 },
  refresh: { calls: 4 },
  diff: { calls: 0 },
  recover: { calls: 6, of: "4 reads + 2" },
  updateTag: { calls: 1 },
  delete: { calls: 1 },
};

/** A phase's floor as the Markdown report shows it: "6 (4 reads + 2)". */
export function callFloorText(phase: Phase): string {
  const { calls, of } = CALL_FLOORS[phase];
  return of ? `${calls} (${of})` : String(calls);
}

/** The requests per second AWS allows CreateKey, CancelKeyDeletion and EnableKey each (AWS_KMS_QUOTAS). */
export const KEY_CALLS_PER_SECOND = AWS_KMS_QUOTAS.CreateKey;

/** The fewest seconds `keys` keys take to create, or to recover (cancel then enable, pipelined), under AWS's quotas. */
export function quotaFloorSeconds(keys: number): number {
  return keys / KEY_CALLS_PER_SECOND;
}
