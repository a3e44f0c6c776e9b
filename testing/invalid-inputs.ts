// Invalid KmsKey inputs, each with the property its error must name and a phrase of what is allowed.

export interface InvalidInput {
  name: string;
  inputs: Record<string, unknown>;
  property: string;
  allowed: RegExp;
}

const policy = (statement: unknown) => JSON.stringify({ Version: "2012-10-17", Statement: statement });
const manyTags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`tag${i}`, "v"]));

export const INVALID_INPUTS: InvalidInput[] = [
  {
    name: "deletion window 6",
    inputs: { deletionWindowInDays: 6 },
    property: "deletionWindowInDays",
    allowed: /7 to 30/,
  },
  {
    name: "deletion window 31",
    inputs: { deletionWindowInDays: 31 },
    property: "deletionWindowInDays",
    allowed: /7 to 30/,
  },
  {
    name: "deletion window not a number",
    inputs: { deletionWindowInDays: "seven" },
    property: "deletionWindowInDays",
    allowed: /7 to 30/,
  },
  {
    name: "deletion window fractional",
    inputs: { deletionWindowInDays: 7.5 },
    property: "deletionWindowInDays",
    allowed: /whole number/,
  },
  {
    name: "deletion window 0",
    inputs: { deletionWindowInDays: 0 },
    property: "deletionWindowInDays",
    allowed: /7 to 30/,
  },
  {
    name: "rotation period 89",
    inputs: { enableKeyRotation: true, rotationPeriodInDays: 89 },
    property: "rotationPeriodInDays",
    allowed: /90 to 2560/,
  },
  {
    name: "rotation period 2561",
    inputs: { enableKeyRotation: true, rotationPeriodInDays: 2561 },
    property: "rotationPeriodInDays",
    allowed: /90 to 2560/,
  },
  {
    name: "rotation period not a number",
    inputs: { enableKeyRotation: true, rotationPeriodInDays: "yearly" },
    property: "rotationPeriodInDays",
    allowed: /90 to 2560/,
  },
  {
    name: "rotation period without rotation",
    inputs: { rotationPeriodInDays: 180 },
    property: "rotationPeriodInDays",
    allowed: /enableKeyRotation: true/,
  },
  {
    name: "rotation period with rotation off",
    inputs: { enableKeyRotation: false, rotationPeriodInDays: 180 },
    property: "rotationPeriodInDays",
    allowed: /enableKeyRotation: true/,
  },
  {
    name: "rotation on an asymmetric key",
    inputs: { enableKeyRotation: true, keySpec: "RSA_2048", keyUsage: "SIGN_VERIFY" },
    property: "enableKeyRotation",
    allowed: /SYMMETRIC_DEFAULT/,
  },
  {
    name: "enableKeyRotation not a boolean",
    inputs: { enableKeyRotation: "yes" },
    property: "enableKeyRotation",
    allowed: /true or false/,
  },
  {
    name: "unknown keyUsage",
    inputs: { keyUsage: "ENCRYPT" },
    property: "keyUsage",
    allowed: /ENCRYPT_DECRYPT, SIGN_VERIFY/,
  },
  { name: "lower-case keyUsage", inputs: { keyUsage: "encrypt_decrypt" }, property: "keyUsage", allowed: /one of/ },
  {
    name: "unknown keySpec",
    inputs: { keySpec: "AES_256" },
    property: "keySpec",
    allowed: /SYMMETRIC_DEFAULT, RSA_2048/,
  },
  { name: "keySpec not a string", inputs: { keySpec: 2048 }, property: "keySpec", allowed: /one of/ },
  {
    name: "symmetric key for signing",
    inputs: { keyUsage: "SIGN_VERIFY" },
    property: "keyUsage",
    allowed: /ENCRYPT_DECRYPT/,
  },
  {
    name: "HMAC key for encryption",
    inputs: { keySpec: "HMAC_256" },
    property: "keyUsage",
    allowed: /GENERATE_VERIFY_MAC/,
  },
  {
    name: "RSA key for MACs",
    inputs: { keySpec: "RSA_2048", keyUsage: "GENERATE_VERIFY_MAC" },
    property: "keyUsage",
    allowed: /ENCRYPT_DECRYPT or SIGN_VERIFY/,
  },
  {
    name: "ECC key for encryption",
    inputs: { keySpec: "ECC_NIST_P256", keyUsage: "ENCRYPT_DECRYPT" },
    property: "keyUsage",
    allowed: /SIGN_VERIFY or KEY_AGREEMENT/,
  },
  {
    name: "secp256k1 for key agreement",
    inputs: { keySpec: "ECC_SECG_P256K1", keyUsage: "KEY_AGREEMENT" },
    property: "keyUsage",
    allowed: /SIGN_VERIFY/,
  },
  { name: "policy not JSON", inputs: { policy: "{not json" }, property: "policy", allowed: /JSON object/ },
  { name: "policy a JSON array", inputs: { policy: "[]" }, property: "policy", allowed: /JSON object/ },
  {
    name: "policy an object, not a string",
    inputs: { policy: { Statement: [] } },
    property: "policy",
    allowed: /JSON.stringify/,
  },
  {
    name: "policy without Statement",
    inputs: { policy: '{"Version":"2012-10-17"}' },
    property: "policy",
    allowed: /Statement/,
  },
  {
    name: "policy over 32 KB",
    inputs: { policy: policy([{ Sid: "x".repeat(33000) }]) },
    property: "policy",
    allowed: /32768 bytes/,
  },
  { name: "tag key starting with aws:", inputs: { tags: { "aws:team": "a" } }, property: "tags", allowed: /aws:/ },
  {
    name: "tag key starting with AWS: (any case)",
    inputs: { tags: { "AWS:team": "a" } },
    property: "tags",
    allowed: /aws:/,
  },
  { name: "empty tag key", inputs: { tags: { "": "a" } }, property: "tags", allowed: /1 to 128/ },
  {
    name: "tag key over 128 characters",
    inputs: { tags: { ["k".repeat(129)]: "a" } },
    property: "tags",
    allowed: /1 to 128/,
  },
  {
    name: "tag value over 256 characters",
    inputs: { tags: { team: "v".repeat(257) } },
    property: "tags",
    allowed: /256/,
  },
  { name: "51 tags", inputs: { tags: manyTags(51) }, property: "tags", allowed: /at most 50/ },
  { name: "tag value not a string", inputs: { tags: { team: 5 } }, property: "tags", allowed: /string value/ },
  { name: "tags not a map", inputs: { tags: ["team"] }, property: "tags", allowed: /map/ },
  {
    name: "tag key with a forbidden character",
    inputs: { tags: { "team#1": "a" } },
    property: "tags",
    allowed: /letters, digits/,
  },
  {
    name: "tag key in the provider's own namespace",
    inputs: { tags: { "pulumi-kms-key:creation-token": "a" } },
    property: "tags",
    allowed: /used by this provider/,
  },
  {
    name: "description over 8192 characters",
    inputs: { description: "d".repeat(8193) },
    property: "description",
    allowed: /8192/,
  },
  { name: "description not a string", inputs: { description: 42 }, property: "description", allowed: /string/ },
  { name: "enabled not a boolean", inputs: { enabled: "true" }, property: "enabled", allowed: /true or false/ },
  { name: "multiRegion not a boolean", inputs: { multiRegion: 1 }, property: "multiRegion", allowed: /true or false/ },
  {
    name: "bypassPolicyLockoutSafetyCheck not a boolean",
    inputs: { bypassPolicyLockoutSafetyCheck: "no" },
    property: "bypassPolicyLockoutSafetyCheck",
    allowed: /true or false/,
  },
  {
    name: "endpoint not a URL",
    inputs: { endpoint: "kms.local" },
    property: "endpoint",
    allowed: /http:\/\/ or https:\/\/ URL/,
  },
  {
    name: "endpoint with another scheme",
    inputs: { endpoint: "ftp://127.0.0.1:21" },
    property: "endpoint",
    allowed: /http:\/\/ or https:\/\//,
  },
  {
    name: "endpoint carrying credentials",
    inputs: { endpoint: "https://AKIAEXAMPLE:secret@kms.example.com" },
    property: "",
    allowed: /must not carry credentials/,
  },
  {
    name: "endpoint with a query string",
    inputs: { endpoint: "https://kms.example.com/?token=x" },
    property: "endpoint",
    allowed: /query string/,
  },
  {
    name: "plain http to a remote host",
    inputs: { endpoint: "http://kms.example.com" },
    property: "endpoint",
    allowed: /allowInsecureEndpoint: true/,
  },
  { name: "region with upper case", inputs: { region: "US-EAST-1" }, property: "region", allowed: /such as us-east-1/ },
  { name: "region with spaces", inputs: { region: "us east 1" }, property: "region", allowed: /such as us-east-1/ },
  {
    name: "import of a malformed key ID",
    inputs: { importKeyId: "alias/orders" },
    property: "importKeyId",
    allowed: /key ARN/,
  },
  {
    name: "misspelt input",
    inputs: { deletionWindow: 7 },
    property: "deletionWindow",
    allowed: /the inputs are: description/,
  },
  {
    name: "output given as input",
    inputs: { keyId: "1234abcd-12ab-34cd-56ef-1234567890ab" },
    property: "keyId",
    allowed: /not an input/,
  },
];

/** Malformed key IDs and ARNs, refused when importing (read) before any call. */
export const INVALID_KEY_REFERENCES: string[] = [
  "",
  "not-a-key",
  "1234abcd-12ab-34cd-56ef",
  "1234abcd-12ab-34cd-56ef-1234567890abXX",
  "alias/my-key",
  "arn:aws:kms:us-east-1:111122223333:alias/my-key",
  "arn:aws:kms:us-east-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
  "arn:aws:kms:us-east-1:111122223333:key/not-a-uuid",
  "mrk-123",
  "key/1234abcd-12ab-34cd-56ef-1234567890ab",
];
