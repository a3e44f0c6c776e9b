// Answers moto gives differently from KMS, besides key states, put right: ListKeys' eventual consistency (a new key
// may not appear at once) and GetKeyRotationStatus's RotationPeriodInDays (moto does not keep it).
import { editBody, normalizeKeyId, Outcome, parseBody } from "./protocol";

/**
 * For `lagMs` after CreateKey answers, ListKeys leaves the new key out, as KMS may ("AWS KMS eventual consistency": a
 * new key may not appear in ListKeys at once). 0 lists it at once, as moto does.
 */
export class ListKeysLag {
  /** Keys made through the proxy and when. */
  private readonly created = new Map<string, number>();

  constructor(public lagMs = 0) {}

  /** Notes the key a successful CreateKey made. */
  recordCreated(outcome: Outcome): void {
    const id = parseBody<{ KeyMetadata?: { KeyId?: unknown } }>(outcome)?.KeyMetadata?.KeyId;
    if (typeof id === "string") this.created.set(id, Date.now());
  }

  /** ListKeys' answer without the keys made less than lagMs ago. */
  listKeysAnswer(outcome: Outcome): Outcome {
    if (this.lagMs <= 0) return outcome;
    const now = Date.now();
    const visible = (id: string | undefined) => {
      const at = id === undefined ? undefined : this.created.get(id);
      return at === undefined || now - at >= this.lagMs;
    };
    return editBody<{ Keys?: { KeyId?: string }[] }>(outcome, (body) => {
      body.Keys = (body.Keys ?? []).filter((key) => visible(key.KeyId));
    });
  }
}

/** RotationPeriodInDays as EnableKeyRotation last set it, by key ID. */
export class RotationPeriods {
  private readonly periods = new Map<string, number>();

  /** Notes the period of a successful EnableKeyRotation (KMS's default: 365 days). */
  recordEnabled(keyId: string, body: Record<string, unknown>): void {
    this.periods.set(keyId, typeof body.RotationPeriodInDays === "number" ? body.RotationPeriodInDays : 365);
  }

  /** GetKeyRotationStatus with RotationPeriodInDays, which KMS includes whenever rotation is enabled. */
  rotationStatusAnswer(outcome: Outcome, body: Record<string, unknown>): Outcome {
    return editBody<{ KeyId?: unknown; KeyRotationEnabled?: unknown; RotationPeriodInDays?: unknown }>(
      outcome,
      (status) => {
        if (status.KeyRotationEnabled !== true || status.RotationPeriodInDays !== undefined) return false;
        const requested = typeof body.KeyId === "string" ? normalizeKeyId(body.KeyId) : "";
        const id = typeof status.KeyId === "string" ? normalizeKeyId(status.KeyId) : requested;
        status.RotationPeriodInDays = this.periods.get(id) ?? this.periods.get(requested) ?? 365;
      },
    );
  }
}
