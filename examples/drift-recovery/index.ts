// The reason pulumi-kms-key exists: a key scheduled for deletion behind Pulumi's back comes back on the next
// `pulumi up --refresh` (CancelKeyDeletion, then EnableKey), keeping its ID and everything encrypted under it.
import { KmsKey } from "pulumi-kms-key";

const key = new KmsKey("orders-db", {
  description: "Encrypts the orders database; must outlive an accidental deletion",
  enabled: true,
  tags: { team: "orders", "data-classification": "confidential" },
  deletionWindowInDays: 30,
});

export const keyId = key.keyId;
export const arn = key.arn;
export const keyState = key.keyState;
/** Set only while the key is pending deletion. */
export const deletionDate = key.deletionDate;
