// Where to reach KMS, for every resource: its own module, which nothing of a schema's is needed for (the rules in
// validation.ts use key addresses, which use this).
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
