// How a resource's state names its provider: by package path, so the state holds a require(), not the provider's code.
import * as pulumi from "@pulumi/pulumi";
import { outputNames, ResourceSchema } from "../provider/schema";

export type ProviderPackage = Required<pulumi.dynamic.ResourceProvider>;

/**
 * A provider that holds nothing: each call loads the real one by package path in the engine's provider process.
 * Pulumi serializes it into every resource's state, so it must stay these few lines.
 */
export class ProviderLoader implements pulumi.dynamic.ResourceProvider {
  /** `load` is a literal require() of the provider module: the serialized state then holds that one line. */
  constructor(
    private readonly loadModule: () => ProviderPackage,
    private readonly resource: string,
  ) {}
  check(olds: pulumi.Inputs, news: pulumi.Inputs): Promise<pulumi.dynamic.CheckResult> {
    return this.load().check(olds, news);
  }
  diff(id: string, olds: pulumi.Inputs, news: pulumi.Inputs): Promise<pulumi.dynamic.DiffResult> {
    return this.load().diff(id, olds, news);
  }
  create(inputs: pulumi.Inputs): Promise<pulumi.dynamic.CreateResult> {
    return this.load().create(inputs);
  }
  read(id: string, props: pulumi.Inputs): Promise<pulumi.dynamic.ReadResult> {
    return this.load().read(id, props);
  }
  update(id: string, olds: pulumi.Inputs, news: pulumi.Inputs): Promise<pulumi.dynamic.UpdateResult> {
    return this.load().update(id, olds, news);
  }
  delete(id: string, props: pulumi.Inputs): Promise<void> {
    return this.load().delete(id, props);
  }
  private load(): ProviderPackage {
    try {
      return this.loadModule();
    } catch (err) {
      if ((err as { code?: string }).code !== "MODULE_NOT_FOUND") throw err;
      throw new Error(
        `${this.resource}'s provider could not load the package pulumi-kms-key: install it in the Pulumi program's own node_modules (npm install pulumi-kms-key)`,
      );
    }
  }
}

/**
 * What each resource's state holds as its provider. Installed in node_modules, the provider module itself: Pulumi
 * serializes it as one require() by the path after the first node_modules. Anywhere else (a linked checkout would be
 * serialized with all its code; pnpm's .pnpm folders make that path wrong) a loader stands in.
 */
export function stateProvider(modulePath: string, loader: ProviderLoader): pulumi.dynamic.ResourceProvider {
  return installedAtTop(require.resolve(modulePath))
    ? (require(modulePath) as pulumi.dynamic.ResourceProvider)
    : loader;
}

/** True when the package's path continues right after its first node_modules folder (npm's layout). */
export function installedAtTop(modulePath: string): boolean {
  const parts = modulePath.split(/[\\/]/);
  const first = parts.indexOf("node_modules");
  return first >= 0 && parts[first + 1] === "pulumi-kms-key";
}

/**
 * What a resource registers: every output listed, so each one resolves also when the program declares nothing (as
 * `get` does); and the `import` option turned into the schema's option input, since Pulumi can't import dynamic
 * resources (pulumi/pulumi#16175): the provider adopts the existing resource in create instead.
 */
export function registration(
  schema: ResourceSchema,
  args: object,
  opts: pulumi.CustomResourceOptions | undefined,
): { props: pulumi.Inputs; options: pulumi.CustomResourceOptions | undefined } {
  const outputsOnly = Object.fromEntries(outputNames(schema).map((name) => [name, undefined]));
  const imported = opts?.import;
  const option = Object.keys(schema.inputs).find((name) => schema.inputs[name].option);
  if (imported === undefined || option === undefined) return { props: { ...outputsOnly, ...args }, options: opts };
  return { props: { ...outputsOnly, ...args, [option]: imported }, options: { ...opts, import: undefined } };
}
