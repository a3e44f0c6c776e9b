// One description per resource of its properties; everything else about a property is derived from it: the input
// names, defaults, check() failures, diff's replace and update rules, the SDK's Args and outputs, the drift view and
// the README's tables.
import type { CheckFailure, CheckResult } from "@pulumi/pulumi/dynamic";
import { canonicalJson } from "./json";

/** The value Pulumi passes for an input not yet known during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Props = Record<string, unknown>;

/** The types a property can have, in the SDK's terms. */
export interface PropertyTypes {
  string: string;
  boolean: boolean;
  number: number;
  tags: Record<string, string>;
  strings: string[];
}
export type PropertyType = keyof PropertyTypes;

/** One input property of a resource: every fact about it, said once. */
export interface InputProperty<T extends PropertyType = PropertyType> {
  type: T;
  /** One line for the SDK and the README, in the user's words. */
  doc: string;
  /**
   * The program must declare it: check() refuses a declaration without it (with this message, or one of the property's
   * doc), and the SDK's Args type requires it.
   */
  required?: true | string;
  /** What check() fills in when the program leaves the property out; a function when it depends on other inputs. */
  default?: PropertyTypes[T] | ((inputs: Props) => PropertyTypes[T] | undefined);
  /** How the default reads in the README, when it is not the value itself. */
  defaultDoc?: string;
  /** What is allowed, in the README's words, when the rule says more than oneOf/range/maxLength. */
  allowedDoc?: string;
  /** What a change does, in the README's words, when it is more than update or replace. */
  onChangeDoc?: string;
  /** Changing it makes a new resource: KMS can't change it in place. */
  replaceOnChange?: boolean;
  /** Only this provider knows it (KMS can't report it): kept from the state on refresh, never drift. */
  stateOnly?: boolean;
  /** Set by a resource option (for example `import`), not by the program's Args. */
  option?: boolean;
  /** The values KMS allows. */
  oneOf?: readonly string[];
  /** Whole numbers from min to max, of a unit ("days") when given. */
  range?: { min: number; max: number; unit?: string };
  /** At most this many characters. */
  maxLength?: number;
  /** Why a value of the right type is refused, or undefined: a rule that names the property and what is allowed. */
  validate?(value: PropertyTypes[T], inputs: Props): string | string[] | undefined;
  /** Its rule checks the type itself, before anything that could echo the value. */
  typeCheckedByRule?: boolean;
  /** True when the engine must not print the value: a failure then names no property (the engine prints its value). */
  hideValue?(value: unknown): boolean;
  /**
   * Whether a declared value and the last known one differ; by canonical JSON unless said otherwise. `sides` holds the
   * whole last known state and declaration, for a rule that resolves the value against them (a key ID against an ARN).
   */
  differs?(old: unknown, declared: unknown, sides: DiffSides): boolean;
  /** Which group of update calls changes it in place (for KmsKey: description, policy, tags, rotation, enabled). */
  part?: string;
  /** The KMS API field it maps to (for the README), or how KMS holds it. */
  kms?: string;
  /** Drift in it is reported by the drift command and diff (false for state-only and option properties). */
  drift?: boolean;
}

/** The last known state (outputs) and the declaration (checked inputs) a diff compares. */
export interface DiffSides {
  olds: Props;
  news: Props;
}

/** One output property that only KMS reports. */
export interface OutputProperty<T extends PropertyType = PropertyType> {
  type: T;
  doc: string;
  /** May be absent (for example deletionDate, only while pending deletion). */
  optional?: boolean;
  /** Kept in the state for the provider's own use, never a typed output of the SDK. */
  internal?: boolean;
  /** Recorded among the inputs a refresh hands the engine too, so a preview shows it change (a key's state). */
  refreshedInput?: boolean;
}

export interface ResourceSchema {
  /** The resource's name in the user's words (its SDK class). */
  resource: string;
  inputs: Readonly<Record<string, InputProperty>>;
  outputs: Readonly<Record<string, OutputProperty>>;
  /** Rules across properties (say, usage against spec), run after each property's own. */
  rules?: (inputs: Props, fail: (property: string, reason: string) => void) => void;
  /** Properties the engine or check() passes along besides the declared inputs. */
  passedThrough?: readonly string[];
  /** Names a program may not declare on this resource, each with check()'s failure: why, and where they belong. */
  refusedInputs?: Readonly<Record<string, string>>;
}

/** A property declared in a schema, typed: lets `defineSchema` check each default and rule against its type. */
export function input<T extends PropertyType, const P extends InputProperty<T>>(property: P & { type: T }): P {
  return property;
}

export function output<T extends PropertyType, const P extends OutputProperty<T>>(property: P & { type: T }): P {
  return property;
}

export function defineSchema<S extends ResourceSchema>(schema: S): S {
  return schema;
}

// ---- What the SDK derives: Args and outputs, typed from the schema itself.

type ValueOf<P> = P extends { type: infer T extends PropertyType } ? PropertyTypes[T] : never;
type Arg<V> =
  V extends Record<string, string>
    ? import("@pulumi/pulumi").Input<Record<string, import("@pulumi/pulumi").Input<string>>>
    : import("@pulumi/pulumi").Input<V>;

/** The inputs as the provider gets them: plain values, every one optional. */
export type InputsOf<S extends ResourceSchema> = {
  [K in keyof S["inputs"]]?: ValueOf<S["inputs"][K]>;
};

/** What only KMS reports, as the provider keeps it in the state. */
export type ReportedOf<S extends ResourceSchema> = {
  [K in keyof S["outputs"]]: S["outputs"][K] extends { optional: true }
    ? ValueOf<S["outputs"][K]> | undefined
    : ValueOf<S["outputs"][K]>;
};

/** The Args a program passes: every input the program declares (not those resource options set); required ones too. */
export type ArgsOf<S extends ResourceSchema> = {
  [K in keyof S["inputs"] as S["inputs"][K] extends { option: true } | { required: true | string } ? never : K]?: Arg<
    ValueOf<S["inputs"][K]>
  >;
} & {
  [K in keyof S["inputs"] as S["inputs"][K] extends { required: true | string } ? K : never]: Arg<
    ValueOf<S["inputs"][K]>
  >;
};

/** The typed outputs of a resource: its inputs (as KMS has them now) and what KMS reports. */
export type OutputsOf<S extends ResourceSchema> = {
  readonly [
    K in keyof S["inputs"] as S["inputs"][K] extends { option: true } ? never : K
  ]: import("@pulumi/pulumi").Output<
    S["inputs"][K] extends { default: unknown } | { required: true | string }
      ? ValueOf<S["inputs"][K]>
      : ValueOf<S["inputs"][K]> | undefined
  >;
} & {
  readonly [
    K in keyof S["outputs"] as S["outputs"][K] extends { internal: true } ? never : K
  ]: import("@pulumi/pulumi").Output<
    S["outputs"][K] extends { optional: true } ? ValueOf<S["outputs"][K]> | undefined : ValueOf<S["outputs"][K]>
  >;
};

// ---- What the provider derives.

export function inputNames(schema: ResourceSchema): string[] {
  return Object.keys(schema.inputs);
}

export function replaceOnChange(schema: ResourceSchema): string[] {
  return Object.keys(schema.inputs).filter((name) => schema.inputs[name].replaceOnChange);
}

export function stateOnly(schema: ResourceSchema): string[] {
  return Object.keys(schema.inputs).filter((name) => schema.inputs[name].stateOnly);
}

/** The declared properties whose drift is reported, in the schema's order. */
export function driftProperties(schema: ResourceSchema): string[] {
  return Object.keys(schema.inputs).filter((name) => schema.inputs[name].drift);
}

/** The update parts whose declared properties differ from the last known ones, by each property's own rule. */
export function changedParts(
  schema: ResourceSchema,
  olds: Props,
  news: Props,
  skip: readonly string[] = [],
): Set<string> {
  const parts = new Set<string>();
  for (const [name, property] of Object.entries(schema.inputs)) {
    if (!property.part || skip.includes(name)) continue;
    if (propertyDiffers(schema, name, olds[name], news[name], { olds, news })) parts.add(property.part);
  }
  return parts;
}

/** The replace-on-change properties whose declared value differs from the last known one, by each one's own rule. */
export function replacements(schema: ResourceSchema, olds: Props, news: Props): string[] {
  return replaceOnChange(schema).filter((name) =>
    propertyDiffers(schema, name, olds[name], news[name], { olds, news }),
  );
}

/** Every output the SDK lists, so each one resolves even when the program declares nothing (as get does). */
export function outputNames(schema: ResourceSchema): string[] {
  const inputs = Object.keys(schema.inputs).filter((name) => !schema.inputs[name].option);
  const outputs = Object.keys(schema.outputs).filter((name) => !schema.outputs[name].internal);
  return [...inputs, ...outputs];
}

/** The inputs a refresh records: the outputs less what only KMS reports (but the outputs marked refreshedInput). */
export function refreshedInputs(schema: ResourceSchema, outputs: object): Props {
  const inputs: Props = { ...outputs };
  for (const [name, property] of Object.entries(schema.outputs)) if (!property.refreshedInput) delete inputs[name];
  return inputs;
}

/**
 * check(): a null input (a JavaScript program, an Output that resolves to null) means an absent one; then the
 * schema's rules; then its defaults, and whatever `finish` adds for the resource.
 */
export function checkInputs(
  schema: ResourceSchema,
  news: Props,
  finish: (declared: Props) => object = (declared) => withDefaults(schema, declared),
): CheckResult {
  const declared = withoutAbsent(news);
  const failures = validate(schema, declared);
  return failures.length > 0 ? { failures } : { inputs: finish(declared) };
}

/** The inputs with each left-out property's default filled in (an unknown value is kept as it is). */
export function withDefaults(schema: ResourceSchema, declared: Props): Props {
  const filled: Props = { ...declared };
  for (const [name, property] of Object.entries(schema.inputs)) {
    if (filled[name] !== undefined || property.default === undefined) continue;
    const value = typeof property.default === "function" ? property.default(filled) : property.default;
    if (value !== undefined) filled[name] = typeof value === "object" ? structuredClone(value) : value;
  }
  return filled;
}

/** Whether a property's declared value differs from the last known one, by the property's own rule. */
export function propertyDiffers(
  schema: ResourceSchema,
  name: string,
  old: unknown,
  declared: unknown,
  sides: DiffSides = { olds: {}, news: {} },
): boolean {
  if (declared === UNKNOWN) return true;
  const rule = schema.inputs[name]?.differs;
  return rule ? rule(old, declared, sides) : differs(old, declared);
}

/** Without absent values: undefined, or null, which the engine passes along for "not declared". */
export function withoutAbsent<T extends object>(props: T): T {
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined && v !== null)) as T;
}

/** Absent and null are the same (nothing declared); objects compare by content, whatever their key order. */
export function differs(a: unknown, b: unknown): boolean {
  if (b === UNKNOWN) return true;
  return canonicalJson(a ?? null) !== canonicalJson(b ?? null);
}

/** check(): each property's type and rule, then the resource's rules; every failure names the property. */
export function validate(schema: ResourceSchema, news: Props): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  const names = inputNames(schema);
  const passed = ["__provider", ...(schema.passedThrough ?? [])];
  for (const name of Object.keys(news)) {
    const refused = schema.refusedInputs?.[name];
    if (refused !== undefined) fail(name, refused);
    else if (!names.includes(name) && !passed.includes(name)) {
      fail(name, `${name} is not an input of ${schema.resource}; the inputs are: ${declarable(schema).join(", ")}`);
    }
  }
  for (const [name, property] of Object.entries(schema.inputs)) {
    const value = news[name];
    if (property.required && (value === undefined || value === null)) {
      fail(name, typeof property.required === "string" ? property.required : `${name} is required: ${property.doc}`);
    }
    if (value === undefined || value === null || value === UNKNOWN) continue;
    const typed = property.typeCheckedByRule ? undefined : typeProblem(name, property, value);
    const problem = typed ?? ruleProblem(property, value, news);
    const named = property.hideValue?.(value) ? "" : name;
    for (const reason of [problem].flat()) if (reason) fail(named, reason);
  }
  schema.rules?.(news, fail);
  return failures;
}

function declarable(schema: ResourceSchema): string[] {
  return Object.keys(schema.inputs).filter((name) => !schema.inputs[name].option);
}

function typeProblem(name: string, property: InputProperty, value: unknown): string | undefined {
  switch (property.type) {
    case "boolean":
      return typeof value === "boolean" ? undefined : `${name} must be true or false; got ${show(value)}`;
    case "number":
      if (property.range) {
        const { min, max, unit } = property.range;
        const whole = typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
        const of = unit ? ` of ${unit}` : "";
        return whole ? undefined : `${name} must be a whole number${of} from ${min} to ${max}; got ${show(value)}`;
      }
      return typeof value === "number" ? undefined : `${name} must be a number; got ${show(value)}`;
    case "string":
      if (property.oneOf && (typeof value !== "string" || !property.oneOf.includes(value))) {
        return `${name} must be one of ${property.oneOf.join(", ")}; got ${show(value)}`;
      }
      if (typeof value !== "string") return `${name} must be a string; got ${show(value)}`;
      if (property.maxLength !== undefined && value.length > property.maxLength) {
        return `${name} must be at most ${property.maxLength} characters; got ${value.length}`;
      }
      return undefined;
    case "tags":
      return isMap(value) ? undefined : `${name} must be a map of tag keys to string values; got ${show(value)}`;
    case "strings":
      return Array.isArray(value) && value.every((v) => typeof v === "string")
        ? undefined
        : `${name} must be a list of strings; got ${show(value)}`;
  }
}

function ruleProblem(property: InputProperty, value: unknown, news: Props): string | string[] | undefined {
  const rule = property.validate as ((value: unknown, inputs: Props) => string | string[] | undefined) | undefined;
  return rule?.(value, news);
}

/** A plain object, as tags are: not null, not a list. */
export function isMap(value: unknown): value is Record<string, string> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A value as an error message shows it: quoted, and cut short. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value === undefined) return "nothing";
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}

// ---- What the README derives: one table per resource, inputs then outputs.

/** The Markdown tables of a resource's inputs and outputs, as the README shows them (npm run docs writes them). */
export function markdownTables(schema: ResourceSchema): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  const code = (value: unknown) => "`" + JSON.stringify(value) + "`";
  const inputs = Object.entries(schema.inputs).map(([name, p]) => {
    const shownDefault =
      p.defaultDoc ??
      (p.required ? "required" : p.default === undefined || typeof p.default === "function" ? "none" : code(p.default));
    const allowed =
      p.allowedDoc ??
      (p.oneOf
        ? p.oneOf.length > 6
          ? `${p.oneOf.slice(0, 5).join(", ")}, ...`
          : p.oneOf.join(", ")
        : p.range
          ? `${p.range.min}–${p.range.max}`
          : p.maxLength !== undefined
            ? `up to ${p.maxLength} characters`
            : p.type);
    const onChange =
      p.onChangeDoc ?? (p.replaceOnChange ? "**replace**" : p.stateOnly ? "update (state only)" : "update");
    return `| \`${name}\` | ${cell(p.doc)} | ${cell(shownDefault)} | ${cell(allowed)} | ${cell(onChange)} |`;
  });
  const outputs = Object.entries(schema.outputs)
    .filter(([, p]) => !p.internal)
    .map(([name, p]) => `\`${name}\` (${p.doc})`);
  return [
    "| input | what it is | default | allowed | on change |",
    "| --- | --- | --- | --- | --- |",
    ...inputs,
    "",
    `Outputs: every input as KMS has it now, and ${outputs.join("; ")}.`,
  ].join("\n");
}

/** The tables' text without the padding a formatter adds: what two tables are compared by. */
export function tableText(markdown: string): string {
  return markdown
    .split("\n")
    .map((line) =>
      line.startsWith("|")
        ? line
            .split(/(?<!\\)\|/)
            .map((c) => c.trim().replace(/^-{3,}$/, "---"))
            .join("|")
        : line.trim(),
    )
    .join("\n")
    .trim();
}
