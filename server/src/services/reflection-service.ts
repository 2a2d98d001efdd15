import { type DescFile, type DescService, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import type * as v1 from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import type * as v1alpha from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createDescriptorIndex, type DescriptorIndex } from "../descriptor-index.ts";

export interface ReflectionServiceDeps {
  /**
   * The services this server answers, read at the first call rather than at construction:
   * the router is still being filled when this service is built, and it lists itself.
   */
  services: () => readonly DescService[];
}

type ReflectionV1 = typeof v1.ServerReflection;
type ReflectionV1alpha = typeof v1alpha.ServerReflection;
type Request = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;
type Answer = MessageInitShape<typeof v1.ServerReflectionResponseSchema>["messageResponse"];

/**
 * Server reflection, so buf curl, grpcurl and Postman work with no copy of the protos.
 * v1alpha is v1 under an older package name (same fields, same numbers), so one
 * implementation serves both: answers are plain init objects, and connect builds them with the
 * response schema of whichever version the call came in on.
 */
export function createReflectionService(
  version: ReflectionV1,
  deps: ReflectionServiceDeps,
): ServiceImpl<ReflectionV1>;
export function createReflectionService(
  version: ReflectionV1alpha,
  deps: ReflectionServiceDeps,
): ServiceImpl<ReflectionV1alpha>;
export function createReflectionService(
  _version: ReflectionV1 | ReflectionV1alpha,
  deps: ReflectionServiceDeps,
): ServiceImpl<ReflectionV1> | ServiceImpl<ReflectionV1alpha> {
  let index: DescriptorIndex | undefined;
  // Built once, on first use: by then every service is registered.
  const lookup = () => {
    index ??= createDescriptorIndex(deps.services());
    return index;
  };
  const impl = {
    async *serverReflectionInfo(requests: AsyncIterable<Request>) {
      // One answer per request, in order; a lookup that fails is answered in the stream and
      // the stream goes on, as gRPC's own reflection does.
      for await (const req of requests) {
        yield { validHost: req.host, originalRequest: req, messageResponse: answer(lookup(), req) };
      }
    },
  };
  return impl as ServiceImpl<ReflectionV1> | ServiceImpl<ReflectionV1alpha>;
}

function answer(index: DescriptorIndex, req: Request): Answer {
  const request = req.messageRequest;
  switch (request.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: index.serviceNames.map((name) => ({ name })) },
      };
    case "fileByFilename":
      return files(index, index.findFile(request.value), `file not found: ${request.value}`);
    case "fileContainingSymbol":
      return files(
        index,
        index.findFileContainingSymbol(request.value),
        `symbol not found: ${request.value}`,
      );
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = request.value;
      return files(
        index,
        index.findFileContainingExtension(containingType, extensionNumber),
        `extension not found: ${containingType} field ${extensionNumber}`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbersOf(request.value);
      if (!numbers) return error(Code.NotFound, `type not found: ${request.value}`);
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: request.value, extensionNumber: numbers },
      };
    }
    default:
      return error(Code.InvalidArgument, "message_request is required");
  }
}

/**
 * The file with its whole import closure on every answer, not only the files this stream has
 * not seen yet (as grpc-go does): each answer then stands alone, and the closure is small.
 */
function files(index: DescriptorIndex, file: DescFile | undefined, notFound: string): Answer {
  if (!file) return error(Code.NotFound, notFound);
  return {
    case: "fileDescriptorResponse",
    value: {
      fileDescriptorProto: index.withImports(file).map((f) => toBinary(FileDescriptorProtoSchema, f.proto)),
    },
  };
}

function error(code: Code, message: string): Answer {
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}
