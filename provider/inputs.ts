// What a program declares for a key, and what the provider reports back: types derived from KmsKey's schema.
import { KEY_SCHEMA } from "./key/schema";
import { InputsOf, ReportedOf, withDefaults } from "./schema";

/** Inputs a Pulumi program declares for a KMS key (all optional). */
export type KeyInputs = InputsOf<typeof KEY_SCHEMA>;

/** Inputs after check(): defaults applied, plus the key state the program wants (shown in previews). */
export interface CheckedInputs extends KeyInputs {
  /** "Enabled" or "Disabled" as declared; with ignoreChanges: ["keyState"], whatever the old state had. */
  keyState: string;
  /** Set by check() when keyState is in ignoreChanges: the provider then never cancels, enables or disables the key. */
  keyStateIgnored?: boolean;
}

/** What the provider stores and exports for a key. */
export type KeyOutputs = Omit<KeyInputs, "importKeyId"> &
  Partial<ReportedOf<typeof KEY_SCHEMA>> &
  Pick<ReportedOf<typeof KEY_SCHEMA>, "keyId" | "arn" | "keyState">;

/** The state the program wants, every default filled in; what the planner compares against. */
export interface DesiredKey {
  description: string;
  keyUsage: string;
  keySpec: string;
  /** undefined: the policy is not managed. */
  policy?: string;
  tags: Record<string, string>;
  enabled: boolean;
  enableKeyRotation: boolean;
  rotationPeriodInDays?: number;
  multiRegion: boolean;
  deletionWindowInDays: number;
  bypassPolicyLockoutSafetyCheck: boolean;
}

/** The declared key with the schema's defaults: what create, update and import bring the key to. */
export function desiredKey(inputs: KeyInputs): DesiredKey {
  const filled = withDefaults(KEY_SCHEMA, inputs) as Required<KeyInputs>;
  return {
    description: filled.description,
    keyUsage: filled.keyUsage,
    keySpec: filled.keySpec,
    policy: inputs.policy,
    tags: { ...filled.tags },
    enabled: filled.enabled,
    enableKeyRotation: filled.enableKeyRotation,
    // A period left in the inputs by an old state means nothing while rotation is off.
    rotationPeriodInDays: filled.enableKeyRotation ? filled.rotationPeriodInDays : undefined,
    multiRegion: filled.multiRegion,
    deletionWindowInDays: filled.deletionWindowInDays,
    bypassPolicyLockoutSafetyCheck: inputs.bypassPolicyLockoutSafetyCheck === true,
  };
}

export { connectionOf } from "./connection";
export type { Connection } from "./connection";
