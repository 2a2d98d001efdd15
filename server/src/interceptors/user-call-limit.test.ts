import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Code,
  ConnectError,
  createContextValues,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { type Principal, principalKey } from "../auth/principal.ts";
import { userCallLimitInterceptor } from "./user-call-limit.ts";

const user = (userId: string): Principal => ({ userId, role: "user", expiresAt: undefined });
const admin: Principal = { userId: undefined, role: "admin", expiresAt: undefined };

/** A unary call of `principal`'s; abort() ends it as a client leaving would. */
function call(principal: Principal | undefined, stream = false) {
  const controller = new AbortController();
  const req = {
    stream,
    signal: controller.signal,
    contextValues: createContextValues().set(principalKey, principal),
  } as unknown as UnaryRequest;
  return { req, abort: () => controller.abort(new ConnectError("client left", Code.Canceled)) };
}

/** The inner handler: records which calls run, each finished by hand. */
function handler() {
  const running: { req: UnaryRequest; finish: () => void }[] = [];
  let ran = 0;
  const next = (req: UnaryRequest) =>
    new Promise<UnaryResponse>((resolve) => {
      ran++;
      running.push({ req, finish: () => resolve({ stream: false } as UnaryResponse) });
    });
  return { next, running, ran: () => ran };
}

const ticks = () => new Promise((resolve) => setImmediate(resolve));

test("a user's calls beyond the limit wait, and run in order as earlier ones finish", async () => {
  const inner = handler();
  const limited = userCallLimitInterceptor({ perUser: 2, queued: 10 })(inner.next as never);
  const calls = Array.from({ length: 5 }, () => call(user("u1")));
  const answers = calls.map((c) => limited(c.req));
  await ticks();
  assert.equal(inner.ran(), 2, "two run at once");
  // Another user is not held back by u1's queue.
  const other = call(user("u2"));
  const otherAnswer = limited(other.req);
  await ticks();
  assert.equal(inner.ran(), 3);
  inner.running.find((r) => r.req === other.req)?.finish();
  await otherAnswer;
  inner.running[0]?.finish();
  await ticks();
  assert.equal(inner.ran(), 4, "a finished call hands its turn to the next waiting one");
  assert.equal(inner.running[3]?.req, calls[2]?.req, "in arrival order");
  for (const r of inner.running) r.finish();
  await ticks();
  for (const r of inner.running) r.finish();
  await ticks();
  for (const r of inner.running) r.finish();
  await Promise.all(answers);
  assert.equal(inner.ran(), 6);
});

test("past the queue, RESOURCE_EXHAUSTED; admins, the operator's token and streams are not limited", async () => {
  const inner = handler();
  const limited = userCallLimitInterceptor({ perUser: 1, queued: 1 })(inner.next as never);
  const first = limited(call(user("u")).req);
  const second = limited(call(user("u")).req);
  await assert.rejects(limited(call(user("u")).req), (err: unknown) => {
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.ResourceExhausted);
    assert.match(err.rawMessage, /at most 1 at once, 1 waiting/);
    return true;
  });
  for (let i = 0; i < 5; i++) {
    void limited(call(admin).req);
    void limited(call(undefined).req);
    void limited(call(user("u"), true).req);
  }
  await ticks();
  assert.equal(inner.ran(), 1 + 15, "the exempt calls all ran");
  for (const r of inner.running) r.finish();
  await first;
  await ticks();
  for (const r of inner.running) r.finish();
  await second;
});

test("a call that ends while it waits leaves the queue without running", async () => {
  const inner = handler();
  const limited = userCallLimitInterceptor({ perUser: 1, queued: 5 })(inner.next as never);
  const first = limited(call(user("u")).req);
  const leaving = call(user("u"));
  const left = limited(leaving.req);
  const staying = call(user("u"));
  const stays = limited(staying.req);
  leaving.abort();
  await assert.rejects(left, (err: unknown) => err instanceof ConnectError && err.code === Code.Canceled);
  inner.running[0]?.finish();
  await first;
  await ticks();
  assert.equal(inner.ran(), 2);
  assert.equal(inner.running[1]?.req, staying.req, "the next to run is the one that stayed");
  inner.running[1]?.finish();
  await stays;
});

test("a limit of 0 is no limit", async () => {
  const inner = handler();
  const limited = userCallLimitInterceptor({ perUser: 0, queued: 0 })(inner.next as never);
  for (let i = 0; i < 20; i++) void limited(call(user("u")).req);
  await ticks();
  assert.equal(inner.ran(), 20);
});
