// The six functions the engine calls, as a module a resource's state can name by package path.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { shownOnce } from "./shownOnce";

type Props = Record<string, unknown>;

export interface ServedProvider {
  check(olds: Props, news: Props): Promise<dynamic.CheckResult>;
  diff(id: string, olds: Props, news: Props): Promise<dynamic.DiffResult>;
  create(inputs: Props): Promise<dynamic.CreateResult>;
  read(id: string, props: Props): Promise<dynamic.ReadResult>;
  update(id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult>;
  delete(id: string, props: Props): Promise<void>;
}

/**
 * A provider's methods, each showing its expected errors once, as one line (see shownOnce); the host logs those of
 * check, diff, read and delete itself.
 */
export function serve(provider: ServedProvider): ServedProvider {
  return {
    check: (olds, news) => shownOnce(provider.check(olds, news), true),
    diff: (id, olds, news) => shownOnce(provider.diff(id, olds, news), true),
    create: (inputs) => shownOnce(provider.create(inputs), false),
    read: (id, props) => shownOnce(provider.read(id, props), true),
    update: (id, olds, news) => shownOnce(provider.update(id, olds, news), false),
    delete: (id, props) => shownOnce(provider.delete(id, props), true),
  };
}
