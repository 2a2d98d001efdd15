import {
  create,
  createFileRegistry,
  type DescFile,
  type DescService,
  type FileRegistry,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/**
 * The schema of the services this server answers, indexed the way server reflection asks for
 * it: files by name, by a symbol they define, or by an extension they declare. It is built from
 * the descriptors embedded in gen/, so what reflection describes is exactly what the handlers
 * were compiled against, with no second copy of the protos to drift.
 */
export interface DescriptorIndex {
  /** Full names of the services, in registration order. */
  readonly serviceNames: readonly string[];
  findFile(name: string): DescFile | undefined;
  /**
   * The file that defines a fully qualified name: a message, enum, enum value, field, oneof,
   * extension, service or method.
   */
  findFileContainingSymbol(symbol: string): DescFile | undefined;
  findFileContainingExtension(extendee: string, fieldNumber: number): DescFile | undefined;
  /** The extension field numbers known for a message, ascending; undefined if the message is unknown. */
  extensionNumbersOf(extendee: string): number[] | undefined;
  /**
   * `file` first, then every file it imports directly or indirectly, each import before the
   * files that import it: what a client needs to build `file` without asking again.
   */
  withImports(file: DescFile): DescFile[];
}

/** Indexes the files that define `services` and everything they import. */
export function createDescriptorIndex(services: readonly DescService[]): DescriptorIndex {
  const files = importClosure(services.map((s) => s.file));
  // A FileDescriptorSet in dependency order, as protoc --include_imports would write it.
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: files.map((f) => f.proto) }));
  return {
    serviceNames: services.map((s) => s.typeName),
    findFile: (name) => registry.getFile(name),
    findFileContainingSymbol: (symbol) => findSymbol(registry, symbol),
    findFileContainingExtension(extendee, fieldNumber) {
      const message = registry.getMessage(extendee);
      return message && registry.getExtensionFor(message, fieldNumber)?.file;
    },
    extensionNumbersOf(extendee) {
      if (!registry.getMessage(extendee)) return undefined;
      const numbers: number[] = [];
      for (const type of registry) {
        if (type.kind === "extension" && type.extendee.typeName === extendee) numbers.push(type.number);
      }
      return numbers.sort((a, b) => a - b);
    },
    withImports(file) {
      return [file, ...importClosure([file]).filter((f) => f !== file)];
    },
  };
}

/** `roots` and all their imports, each file once, every import before its importers. */
function importClosure(roots: readonly DescFile[]): DescFile[] {
  const out: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile) => {
    if (seen.has(file.proto.name)) return;
    seen.add(file.proto.name);
    for (const dep of file.dependencies) visit(dep);
    out.push(file);
  };
  for (const root of roots) visit(root);
  return out;
}

/**
 * Types are in the registry by name. Members (fields, oneofs, methods, enum values) are not,
 * so those are found through their parent: the name up to the last dot.
 */
function findSymbol(registry: FileRegistry, symbol: string): DescFile | undefined {
  const type = registry.get(symbol);
  if (type) return type.file;
  const dot = symbol.lastIndexOf(".");
  if (dot < 0) return undefined;
  const parentName = symbol.slice(0, dot);
  const member = symbol.slice(dot + 1);
  const parent = registry.get(parentName);
  if (parent?.kind === "service" && parent.methods.some((m) => m.name === member)) return parent.file;
  if (parent?.kind === "message") {
    if (parent.fields.some((f) => f.name === member) || parent.oneofs.some((o) => o.name === member)) {
      return parent.file;
    }
  }
  // Enum values are scoped like C++ enumerators: siblings of their enum, not children of it.
  for (const type of registry) {
    if (type.kind !== "enum" || !type.typeName.startsWith(`${parentName}.`)) continue;
    if (type.typeName.lastIndexOf(".") !== dot) continue;
    if (type.values.some((v) => v.name === member)) return type.file;
  }
  return undefined;
}
