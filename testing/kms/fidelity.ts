// Answers moto gives differently from KMS, besides key states, put right: ListKeys' eventual consistency (a new key
// may not appear at once), GetKeyRotationStatus's RotationPeriodInDays (moto does not keep it) and ListAliases' pages
// (moto answers every alias at once, whatever the Limit).
import { editBody, jsonError, normalizeKeyId, Outcome, parseBody } from "./protocol";

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

/** ListAliases' page size: "If you include a value, it must be between 1 and 100, inclusive ... it defaults to 50". */
const ALIAS_PAGE = { min: 1, max: 100, default: 50 } as const;

/** Why KMS refuses a ListAliases request's Limit (moto ignores it); undefined when it is fine. */
export function listAliasesLimitProblem(body: Record<string, unknown>): Outcome | undefined {
  const limit = body.Limit;
  if (
    limit === undefined ||
    (Number.isInteger(limit) && (limit as number) >= ALIAS_PAGE.min && (limit as number) <= ALIAS_PAGE.max)
  ) {
    return undefined;
  }
  return jsonError(
    400,
    "ValidationException",
    `1 validation error detected: Value '${String(limit)}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to ${ALIAS_PAGE.max}`,
  );
}

/**
 * One page of ListAliases, as KMS pages it (Limit, default 50; Truncated and NextMarker): moto answers every alias at
 * once. The aliases are in name order and the marker is the last name given, so a page stays right while aliases come
 * and go between requests.
 */
export function listAliasesPage(outcome: Outcome, body: Record<string, unknown>): Outcome {
  const limit = typeof body.Limit === "number" ? body.Limit : ALIAS_PAGE.default;
  const after = typeof body.Marker === "string" ? Buffer.from(body.Marker, "base64url").toString("utf8") : undefined;
  return editBody<{ Aliases?: { AliasName?: string }[]; Truncated?: boolean; NextMarker?: string }>(outcome, (page) => {
    const sorted = [...(page.Aliases ?? [])].sort((a, b) => ((a.AliasName ?? "") < (b.AliasName ?? "") ? -1 : 1));
    const rest = after === undefined ? sorted : sorted.filter((alias) => (alias.AliasName ?? "") > after);
    page.Aliases = rest.slice(0, limit);
    page.Truncated = rest.length > limit;
    if (page.Truncated)
      page.NextMarker = Buffer.from(page.Aliases[page.Aliases.length - 1].AliasName ?? "").toString("base64url");
    else delete page.NextMarker;
  });
}
