// Builds KMS clients from the SDK's own credential chain and retry strategy; ProviderSession keeps them. Nothing here
// is ever serialized.
import { KMSClient } from "@aws-sdk/client-kms";
import { DefaultRateLimiter, type RateLimiter } from "@smithy/core/retry";
import { Connection } from "../connection";
import { endpointProblem } from "../validation";
import { AWS_KMS_QUOTAS } from "./quotas";

/** Attempts per call, retries included (SDK retry strategy; override with AWS_MAX_ATTEMPTS). */
export const DEFAULT_MAX_ATTEMPTS = 10;

/**
 * The operations whose default quota a burst can reach (at most 15 per second): each gets a rate limiter that starts
 * at its quota, with KMS's one second of burst, and never slows below it; it speeds up on success, so a raised quota
 * is used too.
 */
const PACED_QUOTAS: Readonly<Record<string, number>> = {
  ...Object.fromEntries(Object.entries(AWS_KMS_QUOTAS).filter(([, perSecond]) => perSecond <= 15)),
  // A ReplicateKey counts as two CreateKey requests in the replica's Region ("Request quotas"): half CreateKey's pace.
  ReplicateKey: Math.min(AWS_KMS_QUOTAS.ReplicateKey, AWS_KMS_QUOTAS.CreateKey / 2),
};

/** Environment variables that shape a client. Only their values' identity is kept in memory, never in state. */
const CLIENT_ENVIRONMENT = [
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_PROFILE",
  "AWS_ENDPOINT_URL_KMS",
  "AWS_ENDPOINT_URL",
  "AWS_MAX_ATTEMPTS",
  "AWS_RETRY_MODE",
];

/** What identifies a connection: its inputs and the environment (tests and long-lived hosts may change it). */
export function connectionKey(connection: Connection): string {
  return JSON.stringify([
    connection.region,
    connection.endpoint,
    ...CLIENT_ENVIRONMENT.map((name) => process.env[name]),
  ]);
}

/** Refuses an endpoint (declared, or from the environment) before any client is made for it. */
export function checkedEndpoint(connection: Connection): void {
  // The SDK warns on Node.js 20 about its releases after January 2027; lock file pins releases that run on 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const endpoint = connection.endpoint ?? environmentEndpoint();
  if (endpoint === undefined) return;
  const fromEnvironment = connection.endpoint === undefined;
  const problem = endpointProblem(
    endpoint,
    connection.allowInsecureEndpoint === true || insecureAllowedByEnvironment(),
    fromEnvironment
      ? "set allowInsecureEndpoint: true on the key (or PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT=true)"
      : undefined,
  );
  if (problem)
    throw new Error(fromEnvironment ? `${problem} (from AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL)` : problem);
}

/** A client of the SDK's own credential chain and retry strategy, each attempt paced by its operation's limiter. */
export function newKmsClient(
  connection: Connection,
  retries: boolean,
  limiterOf: (operation: string) => RateLimiter,
): KMSClient {
  const maxAttempts = retries ? Number(process.env.AWS_MAX_ATTEMPTS) || DEFAULT_MAX_ATTEMPTS : 1;
  const client = new KMSClient({
    ...(connection.region ? { region: connection.region } : {}),
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    maxAttempts,
    retryMode: process.env.AWS_RETRY_MODE ?? "standard",
  });
  limitPerOperation(client, limiterOf);
  return client;
}

/**
 * KMS's request quotas are per operation (CreateKey 5 per second, DescribeKey 2000): the SDK's adaptive mode keeps one
 * rate for the whole client, so a throttled CreateKey would slow every read too. Here each attempt waits for its own
 * operation's limiter, which slows down on a throttle and speeds up again on successes; retries stay the SDK's.
 */
function limitPerOperation(client: KMSClient, limiterOf: (operation: string) => RateLimiter): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const limiter = limiterOf((context.commandName ?? "").replace(/Command$/, ""));
      await limiter.getSendToken();
      try {
        const output = await next(args);
        limiter.updateClientSendingRate({});
        return output;
      } catch (err) {
        limiter.updateClientSendingRate(err);
        throw err;
      }
    },
    // Inside the retry middleware (finalizeRequest, high), so every attempt waits and every answer counts.
    { step: "finalizeRequest", priority: "low", name: "kmsPerOperationRateLimit" },
  );
}

export function newLimiter(operation: string): RateLimiter {
  const quota = PACED_QUOTAS[operation];
  if (quota === undefined) return new DefaultRateLimiter();
  return new QuotaLimiter(quota);
}

/**
 * An operation's limiter from its first request: an engine that creates hundreds of keys at once would otherwise spend
 * its whole retry budget on the first burst of throttles. KMS's bucket starts with one second's requests and the
 * SDK's limiter starts empty, so the first second's requests go unpaced.
 */
class QuotaLimiter implements RateLimiter {
  private readonly paced: DefaultRateLimiter;
  private burst: number;

  constructor(quota: number) {
    this.burst = quota;
    this.paced = new DefaultRateLimiter({ minFillRate: quota, minCapacity: quota });
    this.paced.updateClientSendingRate({ errorType: "THROTTLING" });
  }

  async getSendToken(): Promise<void> {
    if (this.burst > 0) {
      this.burst--;
      return;
    }
    await this.paced.getSendToken();
  }

  updateClientSendingRate(response: unknown): void {
    this.paced.updateClientSendingRate(response);
  }
}

function environmentEndpoint(): string | undefined {
  return process.env.AWS_ENDPOINT_URL_KMS || process.env.AWS_ENDPOINT_URL || undefined;
}

function insecureAllowedByEnvironment(): boolean {
  return process.env.PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT === "true";
}
