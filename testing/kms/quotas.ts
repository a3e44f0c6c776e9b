// KMS's quotas as the local KMS applies them: per-operation request quotas, a token bucket per operation and Region (as
// KMS counts each operation's requests apart, per account and Region), and the limit of tags on one key. Tests set AWS's defaults with the
// provider's own table, provider/kms/quotas.ts.
import { LIMITS } from "../../provider/validation";
import { FAULT_HEADER } from "./faults";
import { jsonError, Outcome } from "./protocol";

/** One operation's quota: a bucket of at most one second's requests, refilled continuously at the quota's rate. */
interface TokenBucket {
  perSecond: number;
  tokens: number;
  refilledAt: number;
}

/** What one request takes from the quotas: `count` requests of `operation` in `region`. */
export interface QuotaCost {
  operation: string;
  region?: string;
  count: number;
}

/**
 * What a request counts as ("Request quotas"): one request of its operation in its Region, except ReplicateKey, which
 * "counts as one ReplicateKey request in the primary key's Region and two CreateKey requests in the replica's Region".
 */
export function quotaCosts(operation: string, region: string | undefined, body: Record<string, unknown>): QuotaCost[] {
  const costs: QuotaCost[] = [{ operation, region, count: 1 }];
  if (operation === "ReplicateKey" && typeof body.ReplicaRegion === "string") {
    costs.push({ operation: "CreateKey", region: body.ReplicaRegion, count: 2 });
  }
  return costs;
}

export class Quotas {
  private readonly perOperation = new Map<string, number>();
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private defaultPerSecond: number | undefined,
    table: Readonly<Record<string, number>> = {},
  ) {
    this.setAll(table);
  }

  /**
   * Requests per second for `operation`, or the default for every operation without its own quota when `operation`
   * is omitted. Each operation has its own token bucket, starting full. undefined removes the quota.
   */
  set(perSecond: number | undefined, operation?: string): void {
    if (operation === undefined) this.defaultPerSecond = perSecond;
    else if (perSecond === undefined) this.perOperation.delete(operation);
    else this.perOperation.set(operation, perSecond);
    // A changed quota starts with a full bucket (for one operation, or for all when the default changed).
    if (operation === undefined) this.buckets.clear();
    else for (const key of [...this.buckets.keys()]) if (key.startsWith(`${operation}|`)) this.buckets.delete(key);
  }

  /** Replaces every per-operation quota with `table` (e.g. AWS_KMS_QUOTAS); {} removes them. The default is kept. */
  setAll(table: Readonly<Record<string, number>>): void {
    this.perOperation.clear();
    this.buckets.clear();
    for (const [operation, perSecond] of Object.entries(table)) this.perOperation.set(operation, perSecond);
  }

  /** True if every bucket the request counts in has its requests left (and takes them); none is taken otherwise. */
  admit(costs: readonly QuotaCost[]): boolean {
    const now = performance.now();
    const taken: { bucket: TokenBucket; count: number }[] = [];
    for (const { operation, region, count } of costs) {
      const perSecond = this.perOperation.get(operation) ?? this.defaultPerSecond;
      if (perSecond === undefined) continue;
      const key = `${operation}|${region ?? ""}`;
      let bucket = this.buckets.get(key);
      if (!bucket || bucket.perSecond !== perSecond) {
        bucket = { perSecond, tokens: perSecond, refilledAt: now };
        this.buckets.set(key, bucket);
      }
      bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.refilledAt) / 1000) * perSecond);
      bucket.refilledAt = now;
      if (bucket.tokens < count) return false;
      taken.push({ bucket, count });
    }
    for (const { bucket, count } of taken) bucket.tokens -= count;
    return true;
  }
}

/** KMS's answer to a request beyond its operation's quota. */
export function quotaExceeded(): Outcome {
  return jsonError(
    400,
    "ThrottlingException",
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
    { [FAULT_HEADER]: "quota" },
  );
}

/** KMS's answer to a CreateKey that carries more tags than a key may have ("Quotas": tags per KMS key, the limit the
 * provider checks too); undefined when they fit. */
export function tooManyTags(count: number): Outcome | undefined {
  if (count <= LIMITS.tagCount) return undefined;
  return jsonError(400, "TagException", `A KMS key can have at most ${LIMITS.tagCount} tags; got ${count}.`);
}
