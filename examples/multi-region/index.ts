// Disaster recovery: a multi-Region primary key, its replica in a second Region, and the alias applications use in
// each Region. Scheduled for deletion behind Pulumi's back, the primary (PendingReplicaDeletion while its replica
// exists) and the replica both come back on the next `pulumi up --refresh`, with the same ARNs and key material.
import * as pulumi from "@pulumi/pulumi";
import { KmsAlias, KmsKey, KmsReplicaKey } from "pulumi-kms-key";

const config = new pulumi.Config();
const environment = config.get("environment") ?? "dev";
// The primary's Region is the environment's (AWS_REGION); the replica's must be another.
const replicaRegion = config.get("replicaRegion") ?? "eu-west-1";
const window = environment === "prod" ? 30 : 7;

const primary = new KmsKey("orders", {
  description: `Encrypts orders in every Region (${environment})`,
  multiRegion: true,
  enableKeyRotation: true,
  tags: { team: "orders", environment },
  deletionWindowInDays: window,
});

const replica = new KmsReplicaKey("orders-replica", {
  primaryKeyArn: primary.arn,
  region: replicaRegion,
  description: `Encrypts orders in ${replicaRegion} (${environment})`,
  tags: { team: "orders", environment },
  deletionWindowInDays: window,
});

// One name, one alias per Region: each points at the key of its own Region (a key ARN says which Region), so an
// application finds its key by the same name wherever it runs.
const aliasName = `alias/orders-${environment}`;
const primaryAlias = new KmsAlias("orders-alias", { name: aliasName, targetKeyId: primary.arn });
const replicaAlias = new KmsAlias("orders-replica-alias", { name: aliasName, targetKeyId: replica.arn });

export const primaryArn = primary.arn;
export const replicaArn = replica.arn;
export const keyStates = { primary: primary.keyState, replica: replica.keyState };
export const aliasArns = { primary: primaryAlias.arn, replica: replicaAlias.arn };
