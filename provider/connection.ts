// Where to reach KMS: a Region and an endpoint, never credentials. No schema here: every module may import it.

/** Where to reach KMS; never holds credentials (those come from the SDK's default chain). */
export interface Connection {
  region?: string;
  endpoint?: string;
  allowInsecureEndpoint?: boolean;
}

export function connectionOf(inputs: Connection): Connection {
  return {
    region: inputs.region,
    endpoint: inputs.endpoint,
    allowInsecureEndpoint: inputs.allowInsecureEndpoint,
  };
}
