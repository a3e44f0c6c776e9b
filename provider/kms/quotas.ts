// AWS KMS's default request quotas, in requests per second per account and Region, for the operations this
// provider makes (KMS developer guide, "Request quotas"). Each operation's quota is independent of the others.
export const AWS_KMS_QUOTAS: Readonly<Record<string, number>> = {
  CancelKeyDeletion: 5,
  CreateAlias: 5,
  CreateKey: 5,
  DeleteAlias: 5,
  EnableKey: 5,
  DisableKey: 5,
  DisableKeyRotation: 5,
  UntagResource: 5,
  UpdateAlias: 5,
  UpdateKeyDescription: 5,
  // In the primary key's Region; it also counts as two CreateKey requests in the replica's Region.
  ReplicateKey: 5,
  TagResource: 10,
  EnableKeyRotation: 15,
  PutKeyPolicy: 15,
  ScheduleKeyDeletion: 15,
  ListAliases: 100,
  ListKeys: 500,
  GetKeyPolicy: 1000,
  GetKeyRotationStatus: 1000,
  DescribeKey: 2000,
  ListResourceTags: 2000,
};
