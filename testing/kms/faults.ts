// Faults the local KMS injects on request: throttling, 5xx before or after the operation, connection resets before or
// after it, delays, access denied. Rules apply in order, the first that matches wins, each for its number of times.
import { jsonError, normalizeKeyId, Outcome } from "./protocol";

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

interface ActiveRule {
  rule: FaultRule;
  remaining: number; // Infinity when unlimited
}

/** A small seeded PRNG, so that a rule's probability gives the same faults on every run. */
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

export class Faults {
  private readonly rules: ActiveRule[] = [];
  private readonly random: () => number;

  constructor(seed = 1) {
    this.random = mulberry32(seed);
  }

  add(rule: FaultRule): void {
    this.rules.push({ rule: { ...rule }, remaining: rule.times ?? Infinity });
  }

  clear(): void {
    this.rules.length = 0;
  }

  /** The rule that applies to this call, using up one of its times; undefined when none does. */
  match(operation: string, keyId: string | undefined, tagKeys: readonly string[] = []): FaultRule | undefined {
    return this.matchRule(operation, keyId) ?? this.tagOnCreateDenied(operation, tagKeys);
  }

  private matchRule(operation: string, keyId: string | undefined): FaultRule | undefined {
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

  /** An accessDenied rule for TagResource also refuses a CreateKey that carries tags, as KMS does. */
  private tagOnCreateDenied(operation: string, tagKeys: readonly string[]): FaultRule | undefined {
    if (operation !== "CreateKey" || tagKeys.length === 0) return undefined;
    const active = this.rules.find(
      ({ rule, remaining }) =>
        rule.operation === "TagResource" && rule.kind === "accessDenied" && rule.keyId === undefined && remaining > 0,
    );
    if (!active) return undefined;
    active.remaining--;
    return active.rule;
  }
}

/** The header that marks an answer the proxy made up. */
export const FAULT_HEADER = "x-kms-proxy-fault";

/**
 * What the client hears at once for a fault that stops the request before moto ("reset": the connection is destroyed);
 * undefined for the kinds that let it go on (delay, resetAfter, internalAfter).
 */
export function answerBefore(
  rule: FaultRule,
  operation: string,
  keyId: string | undefined,
): Outcome | "reset" | undefined {
  const hdr = { [FAULT_HEADER]: rule.kind };
  switch (rule.kind) {
    case "throttle":
      return jsonError(400, "ThrottlingException", "Rate exceeded", hdr);
    case "internal":
      return internalError(hdr);
    case "dependencyTimeout":
      return jsonError(
        500,
        "DependencyTimeoutException",
        "The system timed out while trying to fulfill the request. You can retry the request.",
        hdr,
      );
    case "unavailable":
      return {
        status: 503,
        headers: { "content-type": "text/plain", ...hdr },
        body: Buffer.from("Service Unavailable"),
      };
    case "accessDenied": {
      const resource = keyId ?? "*";
      // Tags on CreateKey need kms:TagResource as well (CreateKey, "Required permissions").
      const action = rule.operation === "TagResource" ? "TagResource" : operation;
      return jsonError(
        400,
        "AccessDeniedException",
        `User: arn:aws:iam::111122223333:user/test is not authorized to perform: kms:${action} on resource: ${resource} because no identity-based policy allows the kms:${action} action`,
        hdr,
      );
    }
    case "resetBefore":
      return "reset";
    default:
      return undefined;
  }
}

/** KMS carried the request out, then answered 500: the client can't tell whether it did. */
export function internalErrorAfter(): Outcome {
  return internalError({ [FAULT_HEADER]: "internalAfter" });
}

function internalError(headers: Record<string, string>): Outcome {
  return jsonError(
    500,
    "KMSInternalException",
    "The request was rejected because an internal exception occurred.",
    headers,
  );
}
