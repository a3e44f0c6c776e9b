// Turns KMS and SDK errors into messages that name the key, the operation and what to do.
import { isPendingDeletion, KEY_STATES, KeyState, PENDING_DELETION_STATES } from "../plan";

/** The key does not exist (NotFoundException): on read it means the key is gone. */
export class KeyNotFoundError extends Error {
  constructor(
    readonly keyId: string,
    operation: string,
  ) {
    super(
      `KMS key ${keyId} was not found (${operation}): it does not exist in this account and region, or was deleted`,
    );
    this.name = "KeyNotFoundError";
  }
}

const NOT_PENDING_DELETION = KEY_STATES.filter((state) => !isPendingDeletion(state));

/**
 * The key states in which KMS carries out each operation this provider makes (the key state table of the KMS developer
 * guide, its ✓ cells); the test harness's local KMS refuses the others.
 */
export const REQUIRED_STATES: Readonly<Record<string, readonly KeyState[]>> = {
  CancelKeyDeletion: PENDING_DELETION_STATES,
  EnableKey: ["Enabled", "Disabled", "Unavailable"],
  DisableKey: ["Enabled", "Disabled", "Unavailable"],
  EnableKeyRotation: ["Enabled"],
  DisableKeyRotation: ["Enabled"],
  TagResource: NOT_PENDING_DELETION,
  UntagResource: NOT_PENDING_DELETION,
  UpdateKeyDescription: NOT_PENDING_DELETION,
  ScheduleKeyDeletion: ["Enabled", "Disabled", "PendingImport", "Unavailable", "Creating"],
  // An alias's calls depend on the state of the key they point it at (TargetKeyId), never on the key it leaves.
  CreateAlias: NOT_PENDING_DELETION,
  UpdateAlias: NOT_PENDING_DELETION,
  // Of the primary key, in its own Region.
  ReplicateKey: ["Enabled"],
};

/** "A, B or C". */
function oneOf(states: readonly string[]): string {
  return states.length > 1 ? `${states.slice(0, -1).join(", ")} or ${states[states.length - 1]}` : states.join("");
}

export function errorName(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { name?: string; Code?: string; code?: string };
    return e.name ?? e.Code ?? e.code ?? "Error";
  }
  return "Error";
}

/** An error's message, never with the credentials of a URL in it (an SDK message may quote the endpoint). */
export function errorMessage(err: unknown): string {
  return redactUserinfo(err instanceof Error ? err.message : String(err));
}

// scheme://, then everything up to the last @ before a space or quote: also a URL that does not parse (a bad port, a
// "/" in the secret), and over-redacting a path is harmless.
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s"'<>]*@/gi;

/** The text with each URL's user:password@ shown as ***@: credentials in an endpoint never reach a message or log. */
export function redactUserinfo(text: string): string {
  return text.replace(URL_USERINFO, "$1***@");
}

/** The name did not resolve (DNS): raised before any connection, so nothing was sent. */
const DNS_FAILURES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EAI_NODATA"]);

/**
 * True when the request failed before a connection to KMS existed (the host name did not resolve, nothing accepted the
 * connection): no byte of it was sent, so KMS did nothing. A reset or a timeout after connecting is not one of these.
 */
export function neverSent(err: unknown): boolean {
  if (!err || typeof err !== "object") return false;
  const e = err as { code?: string; syscall?: string; errors?: unknown[] };
  if (e.syscall === "getaddrinfo" || e.syscall === "connect") return true;
  // Node.js tries each address of a host in turn and, when every one fails, reports them all together.
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.every(neverSent);
  return DNS_FAILURES.has(e.code ?? "") || e.code === "ECONNREFUSED";
}

export function isNotFound(err: unknown): boolean {
  return errorName(err) === "NotFoundException";
}

/** KMS refused the call because of the key's state: KMSInvalidStateException, or DisabledException for a Disabled key. */
export function isInvalidState(err: unknown): boolean {
  const name = errorName(err);
  return name === "KMSInvalidStateException" || name === "DisabledException";
}

export function isAccessDenied(err: unknown): boolean {
  const name = errorName(err);
  return name === "AccessDeniedException" || name === "AccessDenied" || name === "UnauthorizedOperation";
}

interface ErrorContext {
  operation: string;
  keyId?: string;
  /** The key state observed after a KMSInvalidStateException, when it could be read. */
  currentState?: string;
}

/** A plain-words error for a failed KMS call. */
export function explain(err: unknown, context: ErrorContext): Error {
  const { operation, keyId } = context;
  const key = keyId ? `KMS key ${keyId}` : "the KMS key";
  const name = errorName(err);
  const detail = errorMessage(err);
  if (isNotFound(err)) return keyId ? new KeyNotFoundError(keyId, operation) : new Error(`${operation}: ${detail}`);
  const metadata = (err as { $metadata?: { httpStatusCode?: number; attempts?: number } }).$metadata;
  if (metadata?.httpStatusCode !== undefined && (name === "SyntaxError" || /Deserialization error/.test(detail))) {
    // Not KMS's answer (a load balancer or proxy in front of it): say what came back, not how parsing it failed.
    const attempts = metadata.attempts && metadata.attempts > 1 ? ` (${metadata.attempts} attempts)` : "";
    return new Error(
      `${operation} on ${key} failed: the endpoint answered HTTP ${metadata.httpStatusCode} with a body that is not a KMS response${attempts}`,
    );
  }
  if (name === "InvalidArnException") {
    return new Error(
      `${operation}: KMS rejected the key ID or ARN ${JSON.stringify(keyId ?? "")} as not valid: ${detail}`,
    );
  }
  if (isInvalidState(err)) {
    const required = REQUIRED_STATES[operation];
    const needed = required ? oneOf(required) : "a different key state";
    const current = context.currentState
      ? `it is ${context.currentState}`
      : `KMS says: ${name === "DisabledException" ? "the key is disabled" : detail}`;
    return new Error(`${operation} needs ${key} to be ${needed}; ${current}`);
  }
  if (isAccessDenied(err)) {
    return new Error(
      `access denied: the AWS identity in use lacks the permission kms:${operation} on ${key}. Grant it in the key policy or IAM. (${detail})`,
    );
  }
  if (name === "CredentialsProviderError") {
    return new Error(
      `no AWS credentials found for ${operation}: set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or another source of the AWS SDK's default chain (${detail})`,
    );
  }
  if (/Region is missing/i.test(detail)) {
    return new Error(
      `no AWS region for ${operation}: set the key's region input, or AWS_REGION, or a region in your AWS profile`,
    );
  }
  if (neverSent(err)) {
    const attempts = metadata?.attempts && metadata.attempts > 1 ? `, ${metadata.attempts} attempts` : "";
    return new Error(
      `${operation} on ${key} failed: KMS could not be reached (${detail}${attempts}), so the request was never sent and KMS did nothing; ${unreachableHint(err)}`,
    );
  }
  return new Error(`${operation} on ${key} failed: ${name}: ${detail}`);
}

// AWS's own KMS host names (kms.REGION.amazonaws.com, kms-fips..., dual-stack api.aws, the other partitions'):
// the host was made from the Region, not from an endpoint.
const AWS_KMS_HOST =
  /^kms(?:-fips)?\.([a-z0-9-]+)\.(?:amazonaws\.com|amazonaws\.com\.cn|api\.aws|c2s\.ic\.gov|sc2s\.sgov\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov|amazonaws\.eu)$/;

/** What to check when nothing reached KMS: a misspelt Region makes a host name that does not exist. */
function unreachableHint(err: unknown): string {
  const { hostname, syscall, code } = err as { hostname?: string; syscall?: string; code?: string };
  const dns = syscall === "getaddrinfo" || DNS_FAILURES.has(code ?? "");
  const region = dns ? AWS_KMS_HOST.exec(hostname ?? "")?.[1] : undefined;
  if (region !== undefined) {
    return `${hostname} is AWS's KMS host for the Region ${JSON.stringify(region)}: check that the Region (the region input, AWS_REGION or the AWS profile's region) is spelled right, such as us-east-1, and that this machine's DNS works`;
  }
  if (dns) {
    return "check the endpoint (the endpoint input, AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL), the region, and this machine's DNS";
  }
  return "check the endpoint input, AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL, the region, and the network";
}
