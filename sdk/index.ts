// pulumi-kms-key: a KMS key resource for Pulumi that brings keys back from scheduled deletion.
export { KmsKey, KmsKeyProvider } from "./kmsKey";
export type { KmsKeyArgs } from "./kmsKey";
export { KmsReplicaKey, KmsReplicaKeyProvider } from "./kmsReplicaKey";
export type { KmsReplicaKeyArgs } from "./kmsReplicaKey";
