// The bench's Switchboard client, run as a child process on the load core (bench/run.ts
// starts it with taskset -c 1). It speaks gRPC over node:http2 (grpc-wire.ts), prepares
// every request before the clock starts, and prints one JSON line with what it measured.
// Every call must end with grpc-status 0 and every item must be accounted for, or the line
// carries the errors and the process exits 1.
//
//   BENCH_TOKEN=… node bench/lib/client.ts list <url> <expected rows>
//   BENCH_TOKEN=… node bench/lib/client.ts batch <url> <rows> <tag>
//   BENCH_TOKEN=… node bench/lib/client.ts create <url> <calls> <concurrency> <tag>
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  BatchCreateUsersRequestSchema,
  BatchCreateUsersResponseSchema,
  CreateUserRequestSchema,
  CreateUserResponseSchema,
  ListUsersRequestSchema,
  ListUsersResponseSchema,
} from "../../gen/switchboard/v1/user_pb.js";
import { frame, openSession, startCall, write } from "./grpc-wire.ts";
import { report, startClock, stopClock, type WorkerResult } from "./worker-result.ts";

const token = process.env.BENCH_TOKEN ?? "";
const [mode, url = "", ...rest] = process.argv.slice(2);
const service = "/switchboard.v1.UserService";

function addError(errors: Record<string, number>, what: string): void {
  errors[what] = (errors[what] ?? 0) + 1;
}

async function list(expected: number): Promise<WorkerResult> {
  const session = await openSession(url);
  const request = frame(toBinary(ListUsersRequestSchema, create(ListUsersRequestSchema, { pageSize: 500 })));
  const errors: Record<string, number> = {};
  // The messages are kept and decoded once the clock has stopped: decoding 100,000 of them
  // took this client half of the load core, which it shares with PostgreSQL (cpu.ts), so the
  // timing would have measured the client. Every message is still decoded and checked.
  const messages: Uint8Array[] = [];
  const started = startClock();
  const { stream, outcome } = startCall(session, `${service}/ListUsers`, token, (bytes) => {
    messages.push(bytes);
  });
  stream.end(request);
  const end = await outcome;
  const seconds = stopClock(started);
  session.close();
  let rows = 0;
  for (const bytes of messages) if (fromBinary(ListUsersResponseSchema, bytes).user?.id) rows++;
  if (end.status !== 0) addError(errors, `grpc-status ${end.status}: ${end.message}`);
  if (rows !== expected) addError(errors, `streamed ${rows} rows, expected ${expected}`);
  return { items: rows, seconds, okCalls: end.status === 0 ? 1 : 0, errors };
}

async function batch(rows: number, tag: string): Promise<WorkerResult> {
  // 100 messages per write: the client's cost per message stays far below the server's.
  const chunks: Buffer[] = [];
  for (let i = 0; i < rows; i += 100) {
    const frames: Buffer[] = [];
    for (let j = i; j < Math.min(rows, i + 100); j++) {
      const message = create(BatchCreateUsersRequestSchema, {
        name: `Bench User ${j}`,
        email: `batch-${tag}-${j}@bench.example`,
        age: 20 + (j % 60),
      });
      frames.push(frame(toBinary(BatchCreateUsersRequestSchema, message)));
    }
    chunks.push(Buffer.concat(frames));
  }
  const session = await openSession(url);
  const errors: Record<string, number> = {};
  let response: ReturnType<typeof fromBinary<typeof BatchCreateUsersResponseSchema>> | undefined;
  const started = startClock();
  const { stream, outcome } = startCall(session, `${service}/BatchCreateUsers`, token, (bytes) => {
    response = fromBinary(BatchCreateUsersResponseSchema, bytes);
  });
  for (const chunk of chunks) await write(stream, chunk);
  stream.end();
  const end = await outcome;
  const seconds = stopClock(started);
  session.close();
  if (end.status !== 0) addError(errors, `grpc-status ${end.status}: ${end.message}`);
  const created = response?.successCount ?? 0;
  if (created !== rows || (response?.failureCount ?? 0) !== 0) {
    addError(errors, `created ${created} of ${rows}, ${response?.failureCount ?? "?"} failures`);
  }
  return { items: created, seconds, okCalls: end.status === 0 ? 1 : 0, errors };
}

async function createUsers(calls: number, concurrency: number, tag: string): Promise<WorkerResult> {
  const requests = Array.from({ length: calls }, (_, i) =>
    frame(
      toBinary(
        CreateUserRequestSchema,
        create(CreateUserRequestSchema, {
          name: `Bench User ${i}`,
          email: `create-${tag}-${i}@bench.example`,
          age: 20 + (i % 60),
        }),
      ),
    ),
  );
  // One connection, `concurrency` calls in flight on it: what one grpc-js channel does.
  const session = await openSession(url);
  const errors: Record<string, number> = {};
  let next = 0;
  let okCalls = 0;
  const started = startClock();
  const loop = async () => {
    for (let i = next++; i < calls; i = next++) {
      let created = false;
      const { stream, outcome } = startCall(session, `${service}/CreateUser`, token, (bytes) => {
        created = fromBinary(CreateUserResponseSchema, bytes).user !== undefined;
      });
      stream.end(requests[i]);
      const end = await outcome;
      if (end.status === 0 && created) okCalls++;
      else addError(errors, `grpc-status ${end.status}: ${end.message}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = stopClock(started);
  session.close();
  return { items: okCalls, seconds, okCalls, errors };
}

let result: WorkerResult;
switch (mode) {
  case "list":
    result = await list(Number(rest[0]));
    break;
  case "batch":
    result = await batch(Number(rest[0]), rest[1] ?? "x");
    break;
  case "create":
    result = await createUsers(Number(rest[0]), Number(rest[1]), rest[2] ?? "x");
    break;
  default:
    throw new Error(`unknown mode ${mode}`);
}
report(result);
process.exitCode = Object.keys(result.errors).length === 0 ? 0 : 1;
