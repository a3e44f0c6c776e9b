// Key policies compared as IAM compares them: KMS hands a policy back in another, equivalent form than declared.
// The rules follow hashicorp/awspolicyequivalence (what terraform-provider-aws uses), and go a little further.
import { canonicalJson } from "./json";

/**
 * True when two policy documents grant the same: formatting, key order, statement order, the order of Action,
 * Resource and principal lists, a one-element list against its element, `"*"` against `{"AWS": "*"}`, an account
 * ID against its root ARN, and condition values `true`/`1` against `"true"`/`"1"` make no difference.
 * Text that is not JSON compares as text.
 */
export function policiesEquivalent(a: string, b: string): boolean {
  let left: unknown;
  let right: unknown;
  try {
    left = JSON.parse(a);
    right = JSON.parse(b);
  } catch {
    return a === b;
  }
  return canonicalJson(normalizePolicy(left)) === canonicalJson(normalizePolicy(right));
}

/** One canonical form per meaning: what policiesEquivalent compares. */
function normalizePolicy(document: unknown): unknown {
  if (!isObject(document)) return document;
  const normalized: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(document)) {
    if (name === "Statement") normalized.Statement = normalizeStatements(value);
    else normalized[name] = value;
  }
  return normalized;
}

function normalizeStatements(value: unknown): unknown {
  // A single statement may be given as an object or as a one-element array.
  const statements = Array.isArray(value) ? value : [value];
  // Statement order doesn't matter, and a repeated statement grants nothing more.
  const unique = new Set(statements.map((statement) => canonicalJson(normalizeStatement(statement))));
  return [...unique].sort();
}

function normalizeStatement(statement: unknown): unknown {
  if (!isObject(statement)) return statement;
  const normalized: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(statement)) {
    switch (name) {
      case "Sid":
        // An empty Sid is no Sid.
        if (value !== "") normalized.Sid = value;
        break;
      case "Effect":
        normalized.Effect = typeof value === "string" ? value.toLowerCase() : value;
        break;
      case "Action":
      case "NotAction":
        // IAM matches action names without regard to case.
        normalized[name] = stringSet(value, (action) => action.toLowerCase());
        break;
      case "Resource":
      case "NotResource":
        normalized[name] = stringSet(value);
        break;
      case "Principal":
      case "NotPrincipal":
        normalized[name] = normalizePrincipal(value);
        break;
      case "Condition":
        normalized.Condition = normalizeCondition(value);
        break;
      default:
        normalized[name] = value;
    }
  }
  return normalized;
}

/** A string or list of strings as a sorted set; anything else is kept as it is (and so compares exactly). */
function stringSet(value: unknown, normalize: (item: string) => string = (item) => item): unknown {
  const items = Array.isArray(value) ? value : [value];
  if (!items.every((item) => typeof item === "string")) return value;
  return [...new Set((items as string[]).map(normalize))].sort();
}

function normalizePrincipal(value: unknown): unknown {
  // "*" means every AWS principal, as {"AWS": "*"} does.
  const principal = value === "*" ? { AWS: "*" } : value;
  if (!isObject(principal)) return principal;
  const normalized: Record<string, unknown> = {};
  for (const [type, members] of Object.entries(principal)) {
    const set = stringSet(members, type === "AWS" ? accountPrincipal : undefined);
    // An empty list names no one: the same as leaving the type out.
    if (Array.isArray(set) && set.length === 0) continue;
    normalized[type] = set;
  }
  return normalized;
}

/** IAM stores an account ID principal as the account's root ARN: both name the account. */
function accountPrincipal(principal: string): string {
  if (/^\d{12}$/.test(principal)) return `account:${principal}`;
  const root = /^arn:[^:]+:iam::(\d{12}):root$/.exec(principal);
  return root ? `account:${root[1]}` : principal;
}

function normalizeCondition(value: unknown): unknown {
  if (!isObject(value)) return value;
  const normalized: Record<string, unknown> = {};
  for (const [operator, block] of Object.entries(value)) {
    if (!isObject(block)) {
      normalized[operator] = block;
      continue;
    }
    const keys: Record<string, unknown> = {};
    for (const [key, values] of Object.entries(block)) {
      // Condition key names are not case-sensitive; values are strings to IAM, whatever JSON type they were given as.
      keys[key.toLowerCase()] = stringSet(conditionValues(values));
    }
    normalized[operator] = keys;
  }
  return normalized;
}

function conditionValues(values: unknown): unknown {
  const items = Array.isArray(values) ? values : [values];
  if (!items.every((item) => ["string", "number", "boolean"].includes(typeof item))) return values;
  return items.map((item) => String(item));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
