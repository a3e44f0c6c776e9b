// Which of a key's tags are the user's: the provider's own and AWS's are never shown, diffed, declared or removed.

/** Tags this provider keeps for itself on a key; never shown, diffed or removed, and no program may declare them. */
export const PROVIDER_TAG_PREFIX = "pulumi-kms-key:";
/** Which adoption (the import option) a key belongs to now: a random value the adopting resource keeps in its state. */
export const OWNER_TAG = `${PROVIDER_TAG_PREFIX}owner`;
/** Tags AWS reserves (CloudFormation, AWS services): no one may set or remove them. */
const AWS_TAG_PREFIX = "aws:";

/** Tags that are not the user's to declare: the provider's own and AWS's. */
export function isReservedTag(key: string): boolean {
  return key.startsWith(PROVIDER_TAG_PREFIX) || key.startsWith(AWS_TAG_PREFIX);
}

/** Tags without the ones this provider keeps for itself and the ones AWS reserves (aws:...). */
export function userTags(tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([key]) => !isReservedTag(key)));
}
