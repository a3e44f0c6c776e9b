// check(): every rule names the property and what is allowed, and runs before any KMS call.
import { CheckFailure } from "@pulumi/pulumi/dynamic";
import { INPUT_NAMES } from "./inputs";
import { parseKeyArn } from "./keyAddress";
import { PROVIDER_TAG_PREFIX } from "./plan";

/** The value Pulumi passes for an input not yet known during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Key usages allowed for each key spec, as KMS enforces them. */
const USAGES_BY_SPEC: Readonly<Record<string, readonly string[]>> = {
  SYMMETRIC_DEFAULT: ["ENCRYPT_DECRYPT"],
  RSA_2048: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  RSA_3072: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  RSA_4096: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  ECC_NIST_P256: ["SIGN_VERIFY", "KEY_AGREEMENT"],
  ECC_NIST_P384: ["SIGN_VERIFY", "KEY_AGREEMENT"],
  ECC_NIST_P521: ["SIGN_VERIFY", "KEY_AGREEMENT"],
  ECC_SECG_P256K1: ["SIGN_VERIFY"],
  ECC_NIST_EDWARDS25519: ["SIGN_VERIFY"],
  HMAC_224: ["GENERATE_VERIFY_MAC"],
  HMAC_256: ["GENERATE_VERIFY_MAC"],
  HMAC_384: ["GENERATE_VERIFY_MAC"],
  HMAC_512: ["GENERATE_VERIFY_MAC"],
  SM2: ["ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"],
  ML_DSA_44: ["SIGN_VERIFY"],
  ML_DSA_65: ["SIGN_VERIFY"],
  ML_DSA_87: ["SIGN_VERIFY"],
  ML_KEM_512: ["ENCAPSULATE_DECAPSULATE"],
  ML_KEM_768: ["ENCAPSULATE_DECAPSULATE"],
  ML_KEM_1024: ["ENCAPSULATE_DECAPSULATE"],
};
const KEY_SPECS = Object.keys(USAGES_BY_SPEC);
const KEY_USAGES = [
  "ENCRYPT_DECRYPT",
  "SIGN_VERIFY",
  "GENERATE_VERIFY_MAC",
  "KEY_AGREEMENT",
  "ENCAPSULATE_DECAPSULATE",
];

export const LIMITS = {
  descriptionLength: 8192,
  policyBytes: 32768,
  tagCount: 50,
  tagKeyLength: 128,
  tagValueLength: 256,
  deletionWindowInDays: { min: 7, max: 30 },
  rotationPeriodInDays: { min: 90, max: 2560 },
} as const;

/** Properties check() adds or the engine passes along, besides the declared inputs. */
const PASSED_THROUGH = ["__provider", "keyState", "keyStateIgnored"];

export function validateInputs(news: Record<string, unknown>): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  const known = (name: string) => news[name] !== undefined && news[name] !== null && news[name] !== UNKNOWN;

  for (const name of Object.keys(news)) {
    if (!(INPUT_NAMES as readonly string[]).includes(name) && !PASSED_THROUGH.includes(name)) {
      fail(name, `${name} is not an input of KmsKey; the inputs are: ${INPUT_NAMES.join(", ")}`);
    }
  }

  for (const name of [
    "enabled",
    "enableKeyRotation",
    "multiRegion",
    "bypassPolicyLockoutSafetyCheck",
    "allowInsecureEndpoint",
  ]) {
    if (known(name) && typeof news[name] !== "boolean")
      fail(name, `${name} must be true or false; got ${show(news[name])}`);
  }

  if (known("description")) {
    const description = news.description;
    if (typeof description !== "string") fail("description", `description must be a string; got ${show(description)}`);
    else if (description.length > LIMITS.descriptionLength) {
      fail(
        "description",
        `description must be at most ${LIMITS.descriptionLength} characters; got ${description.length}`,
      );
    }
  }

  const usage = known("keyUsage") ? news.keyUsage : undefined;
  const spec = known("keySpec") ? news.keySpec : undefined;
  if (usage !== undefined && (typeof usage !== "string" || !KEY_USAGES.includes(usage))) {
    fail("keyUsage", `keyUsage must be one of ${KEY_USAGES.join(", ")}; got ${show(usage)}`);
  }
  if (spec !== undefined && (typeof spec !== "string" || !KEY_SPECS.includes(spec))) {
    fail("keySpec", `keySpec must be one of ${KEY_SPECS.join(", ")}; got ${show(spec)}`);
  }
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

  if (known("policy")) validatePolicy(news.policy, fail);
  if (known("tags")) validateTags(news.tags, fail);

  const daysProblem = (name: "deletionWindowInDays" | "rotationPeriodInDays") => {
    const { min, max } = LIMITS[name];
    if (isWholeNumberIn(news[name], min, max)) return undefined;
    return `${name} must be a whole number of days from ${min} to ${max}; got ${show(news[name])}`;
  };
  const windowProblem = known("deletionWindowInDays") ? daysProblem("deletionWindowInDays") : undefined;
  if (windowProblem) fail("deletionWindowInDays", windowProblem);

  if (known("rotationPeriodInDays")) {
    const periodProblem = daysProblem("rotationPeriodInDays");
    if (periodProblem) {
      fail("rotationPeriodInDays", periodProblem);
    } else if (news.enableKeyRotation !== true && news.enableKeyRotation !== UNKNOWN) {
      fail(
        "rotationPeriodInDays",
        "rotationPeriodInDays applies only with enableKeyRotation: true; set enableKeyRotation: true or remove rotationPeriodInDays",
      );
    }
  }
  if (news.enableKeyRotation === true && specOk && spec !== undefined && spec !== "SYMMETRIC_DEFAULT") {
    fail(
      "enableKeyRotation",
      `enableKeyRotation: true needs keySpec SYMMETRIC_DEFAULT; KMS does not rotate ${String(spec)} keys`,
    );
  }

  if (known("region")) {
    const region = news.region;
    if (typeof region !== "string" || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(region) || region.length > 64) {
      fail(
        "region",
        `region must be a region name of lowercase letters, digits and dashes, such as us-east-1; got ${show(region)}`,
      );
    }
  }
  if (known("importKeyId")) {
    const reference = typeof news.importKeyId === "string" ? parseKeyReference(news.importKeyId) : undefined;
    if (!reference || "error" in reference) {
      fail(
        "importKeyId",
        `importKeyId (the import option) must name an existing key: ${reference?.error ?? `got ${show(news.importKeyId)}`}`,
      );
    }
    // A key's Region is its ARN's: a declared Region that disagrees would later plan the imported key's replacement.
    const keyRegion = parseKeyArn(news.importKeyId)?.region;
    if (keyRegion && known("region") && news.region !== keyRegion) {
      fail(
        "region",
        `region is ${show(news.region)} but the import option names a key in ${show(keyRegion)} (${show(news.importKeyId)}); ` +
          `declare region: ${show(keyRegion)} or leave region out (a key ARN says where the key is)`,
      );
    }
  }
  if (known("endpoint")) {
    const reason = endpointProblem(news.endpoint, news.allowInsecureEndpoint === true);
    // The engine prints the value of a named property: not when it holds credentials.
    if (reason) fail(mayHoldCredentials(news.endpoint) ? "" : "endpoint", reason);
  }
  return failures;
}

function validatePolicy(policy: unknown, fail: (property: string, reason: string) => void): void {
  if (typeof policy !== "string") {
    fail("policy", `policy must be a JSON document given as a string (use JSON.stringify); got ${show(policy)}`);
    return;
  }
  const bytes = Buffer.byteLength(policy, "utf8");
  if (bytes > LIMITS.policyBytes) {
    fail("policy", `policy must be at most ${LIMITS.policyBytes} bytes (32 KB); got ${bytes}`);
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(policy);
  } catch (err) {
    fail("policy", `policy must be a JSON object; it does not parse: ${(err as Error).message}`);
    return;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    fail("policy", 'policy must be a JSON object, such as {"Version":"2012-10-17","Statement":[...]}');
  } else if (!("Statement" in parsed)) {
    fail("policy", "policy must have a Statement list, as every KMS key policy does");
  }
}

function validateTags(tags: unknown, fail: (property: string, reason: string) => void): void {
  if (tags === null || typeof tags !== "object" || Array.isArray(tags)) {
    fail("tags", `tags must be a map of tag keys to string values; got ${show(tags)}`);
    return;
  }
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length > LIMITS.tagCount) {
    fail("tags", `tags may hold at most ${LIMITS.tagCount} tags; got ${entries.length}`);
  }
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > LIMITS.tagKeyLength) {
      fail("tags", `each tag key must be 1 to ${LIMITS.tagKeyLength} characters; got ${show(key)} (${key.length})`);
    } else if (key.toLowerCase().startsWith("aws:")) {
      fail("tags", `tag keys may not start with "aws:" (reserved by AWS); got ${show(key)}`);
    } else if (key.startsWith(PROVIDER_TAG_PREFIX)) {
      fail("tags", `tag keys may not start with "${PROVIDER_TAG_PREFIX}" (used by this provider); got ${show(key)}`);
    } else if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(key)) {
      fail("tags", `tag key ${show(key)} may hold only letters, digits, spaces and _ . : / = + - @`);
    }
    if (value === UNKNOWN) continue;
    if (typeof value !== "string") {
      fail("tags", `tag ${show(key)} must have a string value; got ${show(value)}`);
    } else if (value.length > LIMITS.tagValueLength) {
      fail(
        "tags",
        `tag ${show(key)} has a value of ${value.length} characters; at most ${LIMITS.tagValueLength} are allowed`,
      );
    }
  }
}

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Why an endpoint is refused, or undefined when it is fine. Never echoes credentials given in the URL. */
export function endpointProblem(
  endpoint: unknown,
  allowInsecure: boolean,
  howToAllow = "set allowInsecureEndpoint: true",
): string | undefined {
  // Before parsing: a URL that does not parse (a bad port, a "/" in the secret) may hold credentials all the same.
  if (mayHoldCredentials(endpoint)) {
    return "endpoint must not carry credentials (user:password@ before the host): give only the scheme, host and port, such as https://kms.us-east-1.amazonaws.com; credentials come from the AWS SDK's default chain (environment, profile, role)";
  }
  if (typeof endpoint !== "string")
    return `endpoint must be a URL string such as https://kms.us-east-1.amazonaws.com; got ${show(endpoint)}`;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `endpoint must be an http:// or https:// URL such as https://kms.us-east-1.amazonaws.com; got ${show(endpoint)}`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return `endpoint must be an http:// or https:// URL; got the scheme ${url.protocol}`;
  }
  if (url.search || url.hash) return "endpoint must not have a query string or fragment";
  if (url.protocol === "http:" && !LOOPBACK_HOSTS.test(url.hostname) && !allowInsecure) {
    return `endpoint ${url.origin} uses plain http to a host that is not loopback; use https, or ${howToAllow} to accept an unencrypted connection`;
  }
  return undefined;
}

// What a person may type as a key ID: a UUID, or a multi-Region key's mrk- with 32 hex digits or a dashed UUID
// (moto's form). IDs that came from KMS are never checked: whatever KMS returns is the key's ID.
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const KEY_ID = new RegExp(`^(${UUID}|mrk-[0-9a-f]{32}|mrk-${UUID})$`, "i");

/** The key ID inside a key ID or key ARN a person typed, or an error naming the value given. */
export function parseKeyReference(reference: string): { keyId: string } | { error: string } {
  if (KEY_ID.test(reference)) return { keyId: reference };
  // Any partition and service name (kms, verenc, ...), with or without a Region.
  const arn = parseKeyArn(reference);
  if (arn && KEY_ID.test(arn.keyId)) return { keyId: arn.keyId };
  const alias = /^(alias\/|arn:[^:]*:[^:]*:[^:]*:[0-9]*:alias\/)/i.test(reference)
    ? " (an alias names a key only until it is moved: give the key's ID or ARN, as DescribeKey shows them)"
    : "";
  return {
    error:
      `the key ID ${show(reference)} is neither a key ID (a UUID such as 1234abcd-12ab-34cd-56ef-1234567890ab, or mrk- and 32 hex digits or a UUID) ` +
      `nor a key ARN (arn:PARTITION:SERVICE:[REGION:]ACCOUNT:key/KEY-ID)${alias}`,
  };
}

/** Any "@" in an endpoint: a KMS endpoint has none, and credentials before a host are written with one. */
function mayHoldCredentials(endpoint: unknown): boolean {
  try {
    return (JSON.stringify(endpoint) ?? "").includes("@");
  } catch {
    return true;
  }
}

function isWholeNumberIn(value: unknown, min: number, max: number): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value === undefined) return "nothing";
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}
