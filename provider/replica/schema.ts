// KmsReplicaKey's properties, each described once; what it shares with KmsKey is KmsKey's description, spread here.
import { KEY_SCHEMA } from "../key/schema";
import { parseKeyArn } from "../keyAddress";
import { defineSchema, input, Props, UNKNOWN } from "../schema";
import { ENDPOINT_INPUTS, parseKeyReference, show } from "../validation";

const EXAMPLE_ARN = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";

/** Why a primary key ARN is refused, or undefined: KMS replicates only a multi-Region key (its ID starts with mrk-). */
function primaryKeyArnProblem(arn: string): string | undefined {
  const parsed = parseKeyArn(arn);
  if (!parsed || parsed.region === "") {
    return `primaryKeyArn must be the key ARN of a multi-Region primary key (the arn of a KmsKey with multiRegion: true), such as ${EXAMPLE_ARN}; got ${show(arn)}`;
  }
  if (!/^mrk-/i.test(parsed.keyId)) {
    return `primaryKeyArn must name a multi-Region key (its key ID starts with mrk-: a KmsKey with multiRegion: true); ${show(arn)} is a single-Region key, which KMS does not replicate`;
  }
  return undefined;
}

const REPLICA_INPUTS = {
  primaryKeyArn: input({
    type: "string",
    doc: "The multi-Region primary key to replicate",
    allowedDoc: "the `arn` of a `KmsKey` with `multiRegion: true`",
    required: `primaryKeyArn is required: the key ARN of the multi-Region primary key to replicate, such as ${EXAMPLE_ARN} (a KmsKey's arn)`,
    replaceOnChange: true,
    validate: primaryKeyArnProblem,
    kms: "ReplicateKey's KeyId; DescribeKey's MultiRegionConfiguration.PrimaryKey",
    // The replica's declaration, kept as declared: a primary moved with UpdatePrimaryRegion is no reason to replace it.
    drift: false,
  }),
  region: input({
    type: "string",
    validate: ENDPOINT_INPUTS.region.validate,
    doc: "The replica's Region",
    allowedDoc: "a Region name other than the primary key's",
    required:
      "region is required: the Region to put the replica in, such as eu-west-1 (another Region than the primary key's)",
    replaceOnChange: true,
    kms: "ReplicateKey's ReplicaRegion; the Region in the replica's ARN",
    drift: false,
  }),
  description: KEY_SCHEMA.inputs.description,
  policy: KEY_SCHEMA.inputs.policy,
  tags: KEY_SCHEMA.inputs.tags,
  enabled: KEY_SCHEMA.inputs.enabled,
  deletionWindowInDays: KEY_SCHEMA.inputs.deletionWindowInDays,
  bypassPolicyLockoutSafetyCheck: KEY_SCHEMA.inputs.bypassPolicyLockoutSafetyCheck,
  endpoint: ENDPOINT_INPUTS.endpoint,
  allowInsecureEndpoint: ENDPOINT_INPUTS.allowInsecureEndpoint,
  importKeyId: input({
    type: "string",
    doc: "An existing replica to adopt",
    defaultDoc: "none",
    allowedDoc: "a replica's key ARN (or its ID in `region`); set by the `import` resource option",
    onChangeDoc: "adopts that replica instead of replicating",
    option: true,
    validate: (reference) => {
      const parsed = parseKeyReference(reference);
      if ("error" in parsed)
        return `importKeyId (the import option) must name an existing replica key: ${parsed.error}`;
      return /^mrk-/i.test(parsed.keyId)
        ? undefined
        : `importKeyId (the import option) must name a multi-Region replica key (its key ID starts with mrk-); ${show(reference)} is a single-Region key`;
    },
  }),
} as const;

/** The KmsKey inputs a replica has not: rotation and what a replica shares with its primary key, declared there. */
const PRIMARY_ONLY: Record<string, string> = Object.fromEntries(
  Object.entries(KEY_SCHEMA.inputs)
    .filter(([name, property]) => !(name in REPLICA_INPUTS) && !("option" in property && property.option))
    .map(([name, property]) => [
      name,
      "part" in property && property.part === "rotation"
        ? `${name} can't be set on a KmsReplicaKey: a multi-Region replica rotates with its primary key, and KMS refuses rotation calls on a replica. Set ${name} on the primary KmsKey instead`
        : `${name} can't be set on a KmsReplicaKey: a replica has its primary key's ${name} (KMS shares it across the key family). Declare ${name} on the primary KmsKey instead`,
    ]),
);

export const REPLICA_SCHEMA = defineSchema({
  resource: "KmsReplicaKey",
  inputs: REPLICA_INPUTS,
  outputs: {
    ...KEY_SCHEMA.outputs,
    keyId: {
      ...KEY_SCHEMA.outputs.keyId,
      doc: "the key ID, shared with the primary key; also the resource's id",
    },
    arn: {
      ...KEY_SCHEMA.outputs.arn,
      doc: "the replica's key ARN, in its own Region: what names it",
    },
  },
  passedThrough: KEY_SCHEMA.passedThrough,
  refusedInputs: PRIMARY_ONLY,
  rules: (news, fail) => {
    const known = (name: string) => typeof news[name] === "string" && news[name] !== UNKNOWN;
    const primaryRegion = known("primaryKeyArn") ? parseKeyArn(news.primaryKeyArn)?.region : undefined;
    if (primaryRegion && known("region") && news.region === primaryRegion) {
      fail(
        "region",
        `region is ${show(news.region)}, the Region of the primary key ${show(news.primaryKeyArn)}; a replica goes in another Region, such as ${primaryRegion === "eu-west-1" ? "us-east-1" : "eu-west-1"}`,
      );
    }
    // A key ARN says where the replica is: a declared Region that disagrees would later plan its replacement.
    const importRegion = known("importKeyId") ? parseKeyArn(news.importKeyId)?.region : undefined;
    if (importRegion && known("region") && news.region !== importRegion) {
      fail(
        "region",
        `region is ${show(news.region)} but the import option names a replica in ${show(importRegion)} (${show(news.importKeyId)}); declare region: ${show(importRegion)}`,
      );
    }
  },
});

export type ReplicaSchema = typeof REPLICA_SCHEMA;

export type { Props };
