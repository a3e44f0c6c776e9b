// The rules check() applies, shared by the resources' schemas: each names the property and what is allowed, and runs
// before any KMS call.
import { parseKeyArn } from "./keyAddress";
import { input, show, UNKNOWN } from "./schema";
import { PROVIDER_TAG_PREFIX } from "./tags";

export { show, UNKNOWN };

/** Key usages allowed for each key spec, as KMS enforces them. */
export const USAGES_BY_SPEC: Readonly<Record<string, readonly string[]>> = {
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
export const KEY_SPECS = Object.keys(USAGES_BY_SPEC);
export const KEY_USAGES = [
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
  deletionWindowInDays: { min: 7, max: 30, unit: "days" },
  rotationPeriodInDays: { min: 90, max: 2560, unit: "days" },
} as const;

/** Where to reach KMS: the same three inputs on every resource, never credentials. */
export const ENDPOINT_INPUTS = {
  region: input({
    type: "string",
    doc: "The AWS Region",
    defaultDoc: "from the environment",
    allowedDoc: "a Region name such as `us-east-1`",
    onChangeDoc: "**replace** when it names another Region than the key's",
    stateOnly: true,
    validate: (region) =>
      /^[a-z0-9]+(-[a-z0-9]+)*$/.test(region) && region.length <= 64
        ? undefined
        : `region must be a region name of lowercase letters, digits and dashes, such as us-east-1; got ${show(region)}`,
  }),
  endpoint: input({
    type: "string",
    doc: "A KMS-compatible endpoint",
    defaultDoc: "from the environment",
    allowedDoc: "an `https://` URL of scheme, host and port only; `http://` only to loopback",
    stateOnly: true,
    // An endpoint may carry credentials: its rule checks the type without echoing it, and a failure names no property.
    typeCheckedByRule: true,
    hideValue: mayHoldCredentials,
    validate: (endpoint, inputs) => endpointProblem(endpoint, inputs.allowInsecureEndpoint === true),
  }),
  allowInsecureEndpoint: input({
    type: "boolean",
    doc: "Accept plain http to another host",
    defaultDoc: "`false`",
    allowedDoc: "`true` accepts a plain-http endpoint on another host",
    stateOnly: true,
  }),
} as const;

/** Why a policy is refused, or undefined. */
export function policyProblem(policy: unknown): string | undefined {
  if (typeof policy !== "string") {
    return `policy must be a JSON document given as a string (use JSON.stringify); got ${show(policy)}`;
  }
  const bytes = Buffer.byteLength(policy, "utf8");
  if (bytes > LIMITS.policyBytes) return `policy must be at most ${LIMITS.policyBytes} bytes (32 KB); got ${bytes}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(policy);
  } catch (err) {
    return `policy must be a JSON object; it does not parse: ${(err as Error).message}`;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return 'policy must be a JSON object, such as {"Version":"2012-10-17","Statement":[...]}';
  }
  if (!("Statement" in parsed)) return "policy must have a Statement list, as every KMS key policy does";
  return undefined;
}

/** Why declared tags are refused: one reason per tag at fault. */
export function tagProblems(tags: unknown): string[] {
  const problems: string[] = [];
  const fail = (_property: string, reason: string) => problems.push(reason);
  if (tags === null || typeof tags !== "object" || Array.isArray(tags)) {
    return [`tags must be a map of tag keys to string values; got ${show(tags)}`];
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
  return problems;
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
