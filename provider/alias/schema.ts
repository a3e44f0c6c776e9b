// KmsAlias's properties, each described once: the provider, the SDK and the README derive from this.
import { parseKeyArn } from "../keyAddress";
import { defineSchema, differs, input, output, Props, UNKNOWN } from "../schema";
import { ENDPOINT_INPUTS, parseKeyReference, show } from "../validation";
import { aliasNameIn, parseAliasArn, sameKey, targetArnOf } from "./address";

/** KMS's rules for AliasName (CreateAlias): "alias/" and a name, 1 to 256 characters of A-Z a-z 0-9 / _ -. */
export const ALIAS_LIMITS = { prefix: "alias/", reservedPrefix: "alias/aws/", nameLength: 256 } as const;

/** Why an alias name is refused, or undefined: each reason names `property` and what KMS allows. */
export function aliasNameProblem(name: string, property = "name"): string | undefined {
  const { prefix, reservedPrefix } = ALIAS_LIMITS;
  if (!name.startsWith(prefix)) {
    return `${property} must start with "${prefix}", such as "alias/orders"; got ${show(name)}`;
  }
  if (name.length === prefix.length) return `${property} must have a name after "${prefix}", such as "alias/orders"`;
  if (name.startsWith(reservedPrefix)) {
    return `${property} may not start with "${reservedPrefix}": KMS reserves it for AWS managed keys; got ${show(name)}`;
  }
  const bad = [...name].find((character) => !/[A-Za-z0-9/_-]/.test(character));
  if (bad !== undefined) {
    return `${property} may hold only letters A-Z and a-z, digits, "/", "_" and "-"; ${show(name)} has ${show(bad)}`;
  }
  return undefined;
}

export const ALIAS_SCHEMA = defineSchema({
  resource: "KmsAlias",
  inputs: {
    name: input({
      type: "string",
      doc: "The alias name",
      allowedDoc: "`alias/` then letters, digits, `/`, `_` or `-`, up to 256 characters in all; never `alias/aws/…`",
      required: true,
      maxLength: ALIAS_LIMITS.nameLength,
      validate: (name) => aliasNameProblem(name),
      replaceOnChange: true,
      kms: "AliasName",
      // An alias never changes its name in KMS: it can only differ in a new declaration (a replacement).
      drift: false,
    }),
    targetKeyId: input({
      type: "string",
      doc: "The key the alias points at; a key ARN puts the alias in that key's Region",
      allowedDoc: "a key ID or key ARN (`key.keyId`, `key.arn`)",
      onChangeDoc: "update (`UpdateAlias`)",
      required: true,
      validate: (reference) => {
        const parsed = parseKeyReference(reference);
        if (!("error" in parsed)) return undefined;
        const alias =
          aliasNameIn(reference) !== undefined ? "; an alias can point only at a key, never at another alias" : "";
        return `targetKeyId must name a key: ${parsed.error}${alias}`;
      },
      // The key it names, by ARN, against the one the alias pointed at when last read: an ID and the ARN of one key agree.
      differs: (old, declared, { olds }) => {
        const last = parseKeyArn(olds.targetKeyArn);
        if (!last) return differs(old, declared);
        return !sameKey(targetArnOf(declared, parseAliasArn(olds.arn)), last);
      },
      kms: "TargetKeyId (CreateAlias / UpdateAlias)",
      part: "target",
      drift: true,
    }),
    ...ENDPOINT_INPUTS,
    region: input({
      ...ENDPOINT_INPUTS.region,
      doc: "The AWS Region: the alias's and its key's",
      defaultDoc: "targetKeyId's when a key ARN, else the environment's",
      onChangeDoc: "**replace** when it names another Region than the alias's",
      replaceOnChange: true,
      // The alias's Region is its ARN's: declaring that one changes nothing; declaring another asks for a new alias.
      differs: (_old, declared, { olds }) => {
        const aliasRegion = parseAliasArn(olds.arn)?.region || olds.region;
        return (
          typeof declared === "string" &&
          typeof aliasRegion === "string" &&
          aliasRegion !== "" &&
          declared !== aliasRegion
        );
      },
    }),
    importAliasName: input({
      type: "string",
      doc: "An existing alias to adopt",
      defaultDoc: "none",
      allowedDoc: "an alias name or alias ARN; set by the `import` resource option",
      onChangeDoc: "adopts that alias instead of creating one",
      option: true,
      validate: (reference) =>
        aliasNameIn(reference) === undefined
          ? `importAliasName (the import option) must name an existing alias by its name (alias/...) or alias ARN (arn:PARTITION:kms:REGION:ACCOUNT:alias/...); got ${show(reference)}`
          : undefined,
    }),
  },
  outputs: {
    arn: output({ type: "string", doc: "the alias ARN" }),
    targetKeyArn: output({ type: "string", doc: "the ARN of the key the alias points at" }),
  },
  rules: (news, fail) => {
    const known = (name: string) => typeof news[name] === "string" && news[name] !== UNKNOWN;
    // An alias is in its key's Region and account: a key ARN says which, and a declared Region must agree.
    const keyRegion = known("targetKeyId") ? parseKeyArn(news.targetKeyId)?.region : undefined;
    if (keyRegion && known("region") && news.region !== keyRegion) {
      fail(
        "region",
        `region is ${show(news.region)} but targetKeyId is a key in ${show(keyRegion)} (${show(news.targetKeyId)}), and an alias ` +
          `lives in its key's Region: declare region: ${show(keyRegion)} or leave region out (a key ARN says where the key is)`,
      );
    }
    if (!known("importAliasName")) return;
    const imported = aliasNameIn(news.importAliasName);
    if (imported !== undefined && known("name") && imported !== news.name) {
      fail(
        "name",
        `name is ${show(news.name)} but the import option names the alias ${show(news.importAliasName)}; ` +
          `declare name: ${show(imported)} to adopt that alias, or remove the import option`,
      );
    }
    const aliasRegion = parseAliasArn(news.importAliasName)?.region;
    const declaredRegion = keyRegion || (known("region") ? (news.region as string) : undefined);
    if (aliasRegion && declaredRegion && aliasRegion !== declaredRegion) {
      const declared = keyRegion ? `targetKeyId is a key in ${show(keyRegion)}` : `region is ${show(declaredRegion)}`;
      fail(
        "region",
        `${declared} but the import option names an alias in ${show(aliasRegion)} (${show(news.importAliasName)}), and an ` +
          `alias lives in its key's Region: import the alias of that name in ${show(declaredRegion)}, or declare region and ` +
          `targetKeyId in ${show(aliasRegion)}`,
      );
    }
  },
});

export type AliasSchema = typeof ALIAS_SCHEMA;

export type { Props };
