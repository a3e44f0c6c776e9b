// pulumi-kms-key: a KMS key resource for Pulumi that brings keys back from scheduled deletion, and its aliases.
export { KmsKey, KmsKeyProvider } from "./kmsKey";
export type { KmsKeyArgs } from "./kmsKey";
export { KmsAlias, KmsAliasProvider } from "./kmsAlias";
export type { KmsAliasArgs } from "./kmsAlias";
export { KmsReplicaKey, KmsReplicaKeyProvider } from "./kmsReplicaKey";
export type { KmsReplicaKeyArgs } from "./kmsReplicaKey";
