// Builds KMS clients from the SDK's own credential chain and retry strategy; nothing here is ever serialized.
import { KMSClient } from "@aws-sdk/client-kms";
import { Connection } from "../inputs";
import { endpointProblem } from "../validation";

/** Attempts per call, retries included (SDK retry strategy; override with AWS_MAX_ATTEMPTS). */
export const DEFAULT_MAX_ATTEMPTS = 10;

const clients = new Map<string, KMSClient>();

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

/** One client per connection and process, so the SDK's adaptive rate limiter sees every call. */
export function kmsClient(connection: Connection, options: { retries?: boolean } = {}): KMSClient {
  // The SDK warns on Node.js 20 about its releases after January 2027; lock file pins releases that run on 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const endpoint = connection.endpoint ?? environmentEndpoint();
  if (endpoint !== undefined) {
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
  const retries = options.retries ?? true;
  // The environment is part of the key: tests (and long-lived hosts) may change it between calls.
  const cacheKey = JSON.stringify([
    connection.region,
    connection.endpoint,
    retries,
    ...CLIENT_ENVIRONMENT.map((name) => process.env[name]),
  ]);
  let client = clients.get(cacheKey);
  if (!client) {
    const maxAttempts = retries ? Number(process.env.AWS_MAX_ATTEMPTS) || DEFAULT_MAX_ATTEMPTS : 1;
    client = new KMSClient({
      ...(connection.region ? { region: connection.region } : {}),
      ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
      maxAttempts,
      retryMode: process.env.AWS_RETRY_MODE ?? "adaptive",
    });
    clients.set(cacheKey, client);
  }
  return client;
}

function environmentEndpoint(): string | undefined {
  return process.env.AWS_ENDPOINT_URL_KMS || process.env.AWS_ENDPOINT_URL || undefined;
}

function insecureAllowedByEnvironment(): boolean {
  return process.env.PULUMI_KMS_KEY_ALLOW_INSECURE_ENDPOINT === "true";
}
