// A stack's state as `pulumi stack export` writes it (KmsKeys in it have the type cli/drift.ts names: KMS_KEY_TYPE).

/** One resource in an exported state. */
export interface StateResource {
  urn: string;
  type: string;
  id?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
}

export interface ExportedState {
  version: number;
  deployment: { resources?: StateResource[] } & Record<string, unknown>;
}
