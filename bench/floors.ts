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

/**
 * The fewest seconds a run that spends `leadSeconds` before its first quota-bound request can take for `keys` keys:
 * KMS's bucket starts with one second's requests, the rest go at the quota.
 */
export function leadBoundSeconds(keys: number, leadSeconds: number): number {
  return leadSeconds + Math.max(0, keys - KEY_CALLS_PER_SECOND) / KEY_CALLS_PER_SECOND;
}

/** The phases of a key family's benchmark row. */
export type FamilyPhase = "create" | "recover" | "destroy";

/**
 * The fewest seconds N key families (a primary, its replica in another Region, an alias on the primary) take under
 * AWS's quotas, each Region's buckets filling in parallel: the slowest bucket. ReplicateKey counts as one ReplicateKey
 * in the primary's Region and two CreateKey in the replica's (KMS developer guide, "Request quotas").
 */
export function familyFloorSeconds(families: number, phase: FamilyPhase): number {
  const q = AWS_KMS_QUOTAS;
  const buckets: Record<FamilyPhase, number[]> = {
    // Primary's Region: CreateKey, ReplicateKey, CreateAlias; replica's Region: 2 CreateKey per replica.
    create: [families / q.CreateKey, families / q.ReplicateKey, families / q.CreateAlias, (2 * families) / q.CreateKey],
    // Each Region: CancelKeyDeletion then EnableKey per key, pipelined.
    recover: [families / q.CancelKeyDeletion, families / q.EnableKey],
    // DeleteAlias in the primary's Region; ScheduleKeyDeletion per Region.
    destroy: [families / q.DeleteAlias, families / q.ScheduleKeyDeletion],
  };
  return Math.max(...buckets[phase]);
}
