// KmsKey's properties, each described once: the provider, the SDK, the drift command and the README derive from this.
import { defineSchema, differs, input, isMap, output, Props, UNKNOWN } from "../schema";
import { policiesEquivalent } from "../policy";
import { parseKeyArn } from "../keyAddress";
import {
  ENDPOINT_INPUTS,
  KEY_SPECS,
  KEY_USAGES,
  LIMITS,
  parseKeyReference,
  policyProblem,
  show,
  tagProblems,
  USAGES_BY_SPEC,
} from "../validation";
import { userTags } from "../tags";

export const KEY_SCHEMA = defineSchema({
  resource: "KmsKey",
  inputs: {
    description: input({
      type: "string",
      doc: "What the key is for",
      default: "",
      maxLength: LIMITS.descriptionLength,
      kms: "Description",
      part: "description",
      drift: true,
    }),
    keyUsage: input({
      type: "string",
      allowedDoc: "one the spec allows (below)",
      doc: "What the key does",
      default: "ENCRYPT_DECRYPT",
      oneOf: KEY_USAGES,
      replaceOnChange: true,
      kms: "KeyUsage",
      // KMS never changes it on a key: it cannot drift, only differ in a new declaration (a replacement).
      drift: false,
    }),
    keySpec: input({
      type: "string",
      allowedDoc: "below",
      doc: "The kind of key material",
      default: "SYMMETRIC_DEFAULT",
      oneOf: KEY_SPECS,
      replaceOnChange: true,
      kms: "KeySpec",
      // KMS never changes it on a key: it cannot drift, only differ in a new declaration (a replacement).
      drift: false,
    }),
    policy: input({
      type: "string",
      defaultDoc: "not managed",
      allowedDoc: "a JSON object as a string, up to 32 KB, with a `Statement`",
      onChangeDoc: "update (compared as IAM compares policies)",
      doc: "The key policy; left out, the key keeps whatever policy it has",
      typeCheckedByRule: true,
      validate: policyProblem,
      differs: (old, declared) => {
        // An undeclared policy is not managed: nothing to change.
        if (declared === undefined || declared === null) return false;
        if (typeof old !== "string" || typeof declared !== "string") return true;
        return !policiesEquivalent(old, declared);
      },
      kms: "GetKeyPolicy / PutKeyPolicy",
      part: "policy",
      drift: true,
    }),
    tags: input({
      type: "tags",
      allowedDoc: "up to 50; keys 1–128 characters, not `aws:…` nor `pulumi-kms-key:…`; values up to 256",
      onChangeDoc: "update (undeclared tags are removed)",
      doc: "The key's tags",
      default: {},
      validate: tagProblems,
      // Tags AWS or this provider reserve are not the user's: never drift.
      differs: (old, declared) => differs(isMap(old) ? userTags(old) : old, declared),
      kms: "ListResourceTags / TagResource / UntagResource",
      part: "tags",
      drift: true,
    }),
    enabled: input({
      type: "boolean",
      doc: "Whether the key can be used",
      default: true,
      kms: "KeyState (EnableKey / DisableKey)",
      part: "enabled",
      drift: true,
    }),
    enableKeyRotation: input({
      type: "boolean",
      allowedDoc: "boolean; `SYMMETRIC_DEFAULT` keys only",
      doc: "Automatic rotation of the key material",
      default: false,
      kms: "GetKeyRotationStatus / EnableKeyRotation",
      part: "rotation",
      drift: true,
    }),
    rotationPeriodInDays: input({
      type: "number",
      allowedDoc: "90–2560, only with `enableKeyRotation: true`",
      doc: "Days between rotations",
      default: (inputs) => (inputs.enableKeyRotation === true ? 365 : undefined),
      defaultDoc: "`365` with rotation",
      range: LIMITS.rotationPeriodInDays,
      validate: (_period, inputs) =>
        inputs.enableKeyRotation !== true && inputs.enableKeyRotation !== UNKNOWN
          ? "rotationPeriodInDays applies only with enableKeyRotation: true; set enableKeyRotation: true or remove rotationPeriodInDays"
          : undefined,
      kms: "RotationPeriodInDays",
      part: "rotation",
      drift: true,
    }),
    multiRegion: input({
      type: "boolean",
      doc: "A multi-Region primary key",
      default: false,
      replaceOnChange: true,
      kms: "MultiRegion",
      // KMS never changes it on a key: it cannot drift, only differ in a new declaration (a replacement).
      drift: false,
    }),
    deletionWindowInDays: input({
      type: "number",
      allowedDoc: "7–30: the waiting period `pulumi destroy` asks for",
      doc: "Days KMS waits before deleting a destroyed key",
      default: 30,
      range: LIMITS.deletionWindowInDays,
      stateOnly: true,
      kms: "ScheduleKeyDeletion's PendingWindowInDays",
    }),
    bypassPolicyLockoutSafetyCheck: input({
      type: "boolean",
      onChangeDoc: "update (state only; sent with the policy)",
      doc: "Lets a policy lock out the caller",
      defaultDoc: "`false`",
      stateOnly: true,
      kms: "BypassPolicyLockoutSafetyCheck",
    }),
    ...ENDPOINT_INPUTS,
    importKeyId: input({
      type: "string",
      defaultDoc: "none",
      allowedDoc: "a key ID or key ARN; set by the `import` resource option",
      onChangeDoc: "adopts that key instead of creating one",
      doc: "An existing key to adopt",
      option: true,
      validate: (reference) => {
        const parsed = parseKeyReference(reference);
        return "error" in parsed
          ? `importKeyId (the import option) must name an existing key: ${parsed.error}`
          : undefined;
      },
    }),
  },
  outputs: {
    keyId: output({ type: "string", doc: "the key ID; also the resource's id" }),
    arn: output({ type: "string", doc: "the key ARN" }),
    keyState: output({
      type: "string",
      refreshedInput: true,
      doc: "KMS's `KeyState`: `Enabled`, `Disabled`, `PendingDeletion`, `PendingReplicaDeletion`, `PendingImport`, `Unavailable`, `Creating` or `Updating`",
    }),
    deletionDate: output({
      type: "string",
      refreshedInput: true,
      doc: "ISO 8601, only while the key is pending deletion",
      optional: true,
    }),
    creationDate: output({ type: "string", doc: "ISO 8601" }),
    origin: output({ type: "string", doc: "`AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE`" }),
    keyManager: output({ type: "string", doc: "`CUSTOMER` or `AWS`" }),
    unreadable: output({
      type: "strings",
      doc: "what the last read could not see because access was denied: `policy`, `rotation`, `tags`",
      optional: true,
    }),
    ownerTag: output({
      type: "string",
      doc: "The value of the key's owner tag this resource set when it adopted the key",
      internal: true,
      optional: true,
    }),
  },
  passedThrough: ["keyState", "keyStateIgnored"],
  rules: (news, fail) => {
    const known = (name: string) => news[name] !== undefined && news[name] !== null && news[name] !== UNKNOWN;
    const spec = known("keySpec") ? news.keySpec : undefined;
    const usage = known("keyUsage") ? news.keyUsage : undefined;
    const specOk = spec === undefined || (typeof spec === "string" && KEY_SPECS.includes(spec));
    const usageOk = usage === undefined || (typeof usage === "string" && KEY_USAGES.includes(usage));
    if (specOk && usageOk && news.keyUsage !== UNKNOWN && news.keySpec !== UNKNOWN) {
      const effectiveSpec = (spec as string | undefined) ?? "SYMMETRIC_DEFAULT";
      const effectiveUsage = (usage as string | undefined) ?? "ENCRYPT_DECRYPT";
      const allowed = USAGES_BY_SPEC[effectiveSpec];
      if (!allowed.includes(effectiveUsage)) {
        fail(
          "keyUsage",
          `keyUsage ${effectiveUsage} is not allowed with keySpec ${effectiveSpec}; KMS allows ${allowed.join(" or ")} for that spec` +
            (usage === undefined ? " (keyUsage defaults to ENCRYPT_DECRYPT)" : ""),
        );
      }
    }
    if (news.enableKeyRotation === true && specOk && spec !== undefined && spec !== "SYMMETRIC_DEFAULT") {
      fail(
        "enableKeyRotation",
        `enableKeyRotation: true needs keySpec SYMMETRIC_DEFAULT; KMS does not rotate ${String(spec)} keys`,
      );
    }
    // A key's Region is its ARN's: a declared Region that disagrees would later plan the imported key's replacement.
    const keyRegion = known("importKeyId") ? parseKeyArn(news.importKeyId)?.region : undefined;
    if (keyRegion && known("region") && news.region !== keyRegion) {
      fail(
        "region",
        `region is ${show(news.region)} but the import option names a key in ${show(keyRegion)} (${show(news.importKeyId)}); ` +
          `declare region: ${show(keyRegion)} or leave region out (a key ARN says where the key is)`,
      );
    }
  },
});

export type KeySchema = typeof KEY_SCHEMA;

export type { Props };
