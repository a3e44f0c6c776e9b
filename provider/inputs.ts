// What a program declares for a key, and what the provider reports back.

/** Inputs a Pulumi program declares for a KMS key (all optional). */
export interface KeyInputs {
  description?: string;
  keyUsage?: string;
  keySpec?: string;
  /** The key policy as a JSON string; when left out, KMS's default policy stays as it is. */
  policy?: string;
  tags?: Record<string, string>;
  enabled?: boolean;
  enableKeyRotation?: boolean;
  rotationPeriodInDays?: number;
  multiRegion?: boolean;
  deletionWindowInDays?: number;
  bypassPolicyLockoutSafetyCheck?: boolean;
  region?: string;
  endpoint?: string;
  /** Allows a plain-http endpoint that is not on loopback. */
  allowInsecureEndpoint?: boolean;
  /** An existing key (ID or ARN) to adopt instead of creating one: what KmsKey's `import` option becomes. */
  importKeyId?: string;
}

/** Inputs after check(): defaults applied, plus the key state the program wants (shown in previews). */
export interface CheckedInputs extends KeyInputs {
  /** "Enabled" or "Disabled" as declared; with ignoreChanges: ["keyState"], whatever the old state had. */
  keyState: string;
  /** Set by check() when keyState is in ignoreChanges: the provider then never cancels, enables or disables the key. */
  keyStateIgnored?: boolean;
}

/** What the provider stores and exports for a key. */
export interface KeyOutputs extends KeyInputs {
  keyId: string;
  arn: string;
  /** KMS's KeyState value, for example "Enabled" or "PendingDeletion". */
  keyState: string;
  /** ISO 8601; present only while the key is pending deletion. */
  deletionDate?: string;
  creationDate?: string;
  origin?: string;
  keyManager?: string;
  /** Parts of the key read could not see because access was denied: "policy", "rotation", "tags". */
  unreadable?: string[];
  /** The value of the key's owner tag this resource set when it adopted the key (the import option). */
  ownerTag?: string;
}

export const DEFAULTS = {
  keyUsage: "ENCRYPT_DECRYPT",
  keySpec: "SYMMETRIC_DEFAULT",
  enabled: true,
  multiRegion: false,
  enableKeyRotation: false,
  deletionWindowInDays: 30,
  rotationPeriodInDays: 365,
  description: "",
} as const;

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

export function desiredKey(inputs: KeyInputs): DesiredKey {
  const enableKeyRotation = inputs.enableKeyRotation ?? DEFAULTS.enableKeyRotation;
  return {
    description: inputs.description ?? DEFAULTS.description,
    keyUsage: inputs.keyUsage ?? DEFAULTS.keyUsage,
    keySpec: inputs.keySpec ?? DEFAULTS.keySpec,
    policy: inputs.policy,
    tags: { ...(inputs.tags ?? {}) },
    enabled: inputs.enabled ?? DEFAULTS.enabled,
    enableKeyRotation,
    rotationPeriodInDays: enableKeyRotation
      ? (inputs.rotationPeriodInDays ?? DEFAULTS.rotationPeriodInDays)
      : undefined,
    multiRegion: inputs.multiRegion ?? DEFAULTS.multiRegion,
    deletionWindowInDays: inputs.deletionWindowInDays ?? DEFAULTS.deletionWindowInDays,
    bypassPolicyLockoutSafetyCheck: inputs.bypassPolicyLockoutSafetyCheck ?? false,
  };
}

/** Where to reach KMS; never holds credentials (those come from the SDK's default chain). */
export interface Connection {
  region?: string;
  endpoint?: string;
  allowInsecureEndpoint?: boolean;
}

export function connectionOf(inputs: KeyInputs): Connection {
  return {
    region: inputs.region,
    endpoint: inputs.endpoint,
    allowInsecureEndpoint: inputs.allowInsecureEndpoint,
  };
}

/** Names of the input properties, in the user's words. */
export const INPUT_NAMES: readonly (keyof KeyInputs)[] = [
  "description",
  "keyUsage",
  "keySpec",
  "policy",
  "tags",
  "enabled",
  "enableKeyRotation",
  "rotationPeriodInDays",
  "multiRegion",
  "deletionWindowInDays",
  "bypassPolicyLockoutSafetyCheck",
  "region",
  "endpoint",
  "allowInsecureEndpoint",
  "importKeyId",
];
