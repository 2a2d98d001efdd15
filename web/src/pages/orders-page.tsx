import { type FormEvent, useCallback, useMemo, useState } from "react";
import { type Order, type OrderEvent, OrderStatus } from "../../../gen/switchboard/v1/order_pb.js";
import { type ActingUser, actingUserOf, useActingUser } from "../acting-user.tsx";
import { useApi } from "../api.tsx";
import { LiveBadge } from "../components/live-badge.tsx";
import { Notice, type NoticeValue } from "../components/notice.tsx";
import { PerMinuteChart, StatusChart } from "../components/orders-chart.tsx";
import { UserPicker } from "../components/user-picker.tsx";
import { type Column, VirtualTable } from "../components/virtual-table.tsx";
import { describeError, type FormErrors, formErrors } from "../errors.ts";
import { count, formatTime, shortId } from "../format.ts";
import { unwrap, useLiveStream } from "../live-stream.ts";
import { moveLabel, nextStatuses, statusClass, statusLabel, statusOrder } from "../order-status-view.ts";
import { isAdmin, useSession } from "../session.tsx";
import { rememberUser, useUserName } from "../user-names.ts";

/** An idempotency key per order form: a retried or double-clicked create makes one order. */
function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Keeps the newest version of each order: events and RPC answers may arrive in either order. */
function merge(orders: ReadonlyMap<string, Order>, incoming: readonly Order[]): Map<string, Order> {
  const next = new Map(orders);
  for (const order of incoming) {
    const known = next.get(order.id);
    if (!known || known.version <= order.version) next.set(order.id, order);
  }
  return next;
}

/** The moves a customer may make on their own order; the rest (shipping) is the admins'. */
const customerMoves: ReadonlySet<OrderStatus> = new Set([OrderStatus.PAID, OrderStatus.CANCELLED]);

export function OrdersPage() {
  const api = useApi();
  const admin = isAdmin(useSession().session);
  const [orders, setOrders] = useState<ReadonlyMap<string, Order>>(new Map());
  const [filter, setFilter] = useState<OrderStatus | null>(null);
  const [notice, setNotice] = useState<NoticeValue | null>(null);
  const [highlight, setHighlight] = useState<string>();

  // Every order event since the beginning: the table is the fold of the stream, so it can
  // resume from its last sequence and never needs a separate snapshot. A user's stream (no
  // user_id) carries only their own orders; an admin's carries everyone's.
  const status = useLiveStream<OrderEvent>({
    open: (after, signal) =>
      unwrap(api.orders.streamOrders({ afterSequence: after ?? 0n }, { signal }), "event"),
    sequenceOf: (event) => event.sequence,
    onItems: (events) =>
      setOrders((prev) =>
        merge(
          prev,
          events.flatMap((e) => (e.order ? [e.order] : [])),
        ),
      ),
    initialCursor: 0n,
  });

  const all = useMemo(() => [...orders.values()].sort(newestFirst), [orders]);
  const counts = useMemo(() => {
    const byStatus = new Map<OrderStatus, number>();
    for (const order of all) byStatus.set(order.status, (byStatus.get(order.status) ?? 0) + 1);
    return byStatus;
  }, [all]);
  const rows = useMemo(() => (filter === null ? all : all.filter((o) => o.status === filter)), [all, filter]);

  const move = useCallback(
    async (order: Order, to: OrderStatus) => {
      try {
        const res = await api.orders.updateOrderStatus({
          id: order.id,
          status: to,
          expectedVersion: order.version,
        });
        if (res.order) setOrders((prev) => merge(prev, [res.order as Order]));
        setNotice(null);
      } catch (err) {
        setNotice({ kind: "error", text: `Order ${shortId(order.id)}: ${describeError(err)}` });
      }
    },
    [api],
  );

  const created = useCallback((order: Order) => {
    setOrders((prev) => merge(prev, [order]));
    setHighlight(order.id);
    setFilter(null);
    setNotice({ kind: "ok", text: `Created order ${shortId(order.id)}.` });
  }, []);

  const columns: Column<Order>[] = useMemo(
    () => [
      { header: "Order", width: "96px", render: (o) => <code className="mono">{shortId(o.id)}</code> },
      { header: "Customer", width: "minmax(0, 1.4fr)", render: (o) => <UserName id={o.userId} /> },
      {
        header: "Product",
        width: "minmax(0, 1fr)",
        render: (o) => <span className="truncate">{o.productId}</span>,
      },
      { header: "Qty", width: "56px", align: "end", render: (o) => o.quantity },
      {
        header: "Status",
        width: "112px",
        render: (o) => (
          <span className={`status status-${statusClass(o.status)}`}>{statusLabel(o.status)}</span>
        ),
      },
      {
        header: "Updated",
        width: "84px",
        render: (o) => <span className="muted">{formatTime(o.updateTime)}</span>,
      },
      {
        header: "Actions",
        width: "220px",
        align: "end",
        render: (o) => (
          <span className="row-actions">
            {nextStatuses(o.status)
              .filter((to) => admin || customerMoves.has(to))
              .map((to) => (
                <button
                  key={to}
                  type="button"
                  className={`button button-small${to === OrderStatus.CANCELLED ? " button-quiet-danger" : ""}`}
                  onClick={() => move(o, to)}
                >
                  {admin ? moveLabel(to) : customerMoveLabel(to)}
                </button>
              ))}
          </span>
        ),
      },
    ],
    [move, admin],
  );

  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Orders</h1>
          <p className="page-subtitle">
            {admin
              ? "Every change arrives live from StreamOrders, whoever made it."
              : "Your orders: every change arrives live from StreamOrders, whoever made it."}
          </p>
        </div>
        <LiveBadge name="Orders feed" status={status} />
      </header>
      <div className="orders-top">
        <section className="card" aria-labelledby="new-order-title">
          <NewOrderForm onCreated={created} />
        </section>
        <section className="card" aria-labelledby="activity-title">
          <h2 id="activity-title">Activity</h2>
          <div className="charts">
            <figure>
              <figcaption>By status</figcaption>
              <StatusChart counts={counts} />
            </figure>
            <figure>
              <figcaption>Created per minute</figcaption>
              <PerMinuteChart orders={all} />
            </figure>
          </div>
        </section>
      </div>
      <section className="card card-fill" aria-labelledby="orders-table-title">
        <div className="card-toolbar">
          <h2 id="orders-table-title">{admin ? "All orders" : "Your orders"}</h2>
          <fieldset className="filters">
            <legend className="visually-hidden">Show</legend>
            <FilterButton
              active={filter === null}
              onClick={() => setFilter(null)}
              label="All"
              n={all.length}
            />
            {statusOrder.map((s) => (
              <FilterButton
                key={s}
                active={filter === s}
                onClick={() => setFilter(s)}
                label={statusLabel(s)}
                n={counts.get(s) ?? 0}
              />
            ))}
          </fieldset>
        </div>
        <Notice notice={notice} />
        <VirtualTable
          label="Orders"
          rows={rows}
          columns={columns}
          rowKey={orderKey}
          highlight={highlight}
          empty={status.state === "live" ? "No orders yet." : "Loading orders…"}
        />
      </section>
    </div>
  );
}

const orderKey = (o: Order) => o.id;

/** A customer pays and cancels; an admin marks paid (the payment happened elsewhere). */
function customerMoveLabel(to: OrderStatus): string {
  return to === OrderStatus.PAID ? "Pay" : moveLabel(to);
}

function createdAt(o: Order): number {
  return o.createTime ? Number(o.createTime.seconds) * 1000 + o.createTime.nanos / 1e6 : 0;
}

function newestFirst(a: Order, b: Order): number {
  return createdAt(b) - createdAt(a) || b.id.localeCompare(a.id);
}

function FilterButton(props: { active: boolean; onClick(): void; label: string; n: number }) {
  return (
    <button type="button" className="filter" aria-pressed={props.active} onClick={props.onClick}>
      {props.label} <span className="filter-count">{count.format(props.n)}</span>
    </button>
  );
}

function UserName({ id }: { id: string }) {
  const name = useUserName(id);
  return <span className="truncate">{name ?? <span className="muted mono">{shortId(id)}</span>}</span>;
}

function NewOrderForm({ onCreated }: { onCreated(order: Order): void }) {
  const api = useApi();
  const acting = useActingUser();
  // A user orders for themselves (user_id empty: the server takes the token's user); an admin
  // picks the customer, starting with whom they act as.
  const forSelf = !acting.canChoose;
  const [customer, setCustomer] = useState<ActingUser | null>(acting.user);
  const [product, setProduct] = useState("");
  const [quantity, setQuantity] = useState("1");
  const [key, setKey] = useState(newKey);
  const [errors, setErrors] = useState<FormErrors>({ fields: {} });
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!forSelf && !customer) {
      setErrors({ fields: { user_id: "Choose a customer." } });
      return;
    }
    setBusy(true);
    setErrors({ fields: {} });
    try {
      const res = await api.orders.createOrder({
        userId: forSelf ? "" : (customer?.id ?? ""),
        productId: product.trim(),
        quantity: Number.parseInt(quantity, 10) || 0,
        idempotencyKey: key,
      });
      if (res.order) onCreated(res.order);
      setKey(newKey());
      setProduct("");
      setQuantity("1");
    } catch (err) {
      setErrors(formErrors(err));
    } finally {
      setBusy(false);
    }
  };

  const fieldError = (name: string) =>
    errors.fields[name] && (
      <p id={`order-${name}-error`} className="field-error">
        {errors.fields[name]}
      </p>
    );

  return (
    <form noValidate onSubmit={submit} aria-labelledby="new-order-title" className="order-form">
      <h2 id="new-order-title">New order</h2>
      {forSelf ? (
        <p className="order-for muted">
          For <strong>{acting.user?.name ?? "you"}</strong>: you pay or cancel it here; an admin ships it.
        </p>
      ) : (
        <div className="field">
          <UserPicker
            label="Customer"
            value={customer}
            onChange={(user) => {
              rememberUser(api, user);
              setCustomer(actingUserOf(user));
            }}
          />
          {fieldError("user_id")}
        </div>
      )}
      <div className="field-row">
        <div className="field">
          <label htmlFor="order-product">Product</label>
          <input
            id="order-product"
            value={product}
            placeholder="sku-42"
            autoComplete="off"
            aria-invalid={errors.fields.product_id ? true : undefined}
            aria-describedby={errors.fields.product_id ? "order-product_id-error" : undefined}
            onChange={(e) => setProduct(e.target.value)}
          />
          {fieldError("product_id")}
        </div>
        <div className="field field-narrow">
          <label htmlFor="order-quantity">Quantity</label>
          <input
            id="order-quantity"
            type="number"
            inputMode="numeric"
            min={1}
            value={quantity}
            aria-invalid={errors.fields.quantity ? true : undefined}
            aria-describedby={errors.fields.quantity ? "order-quantity-error" : undefined}
            onChange={(e) => setQuantity(e.target.value)}
          />
          {fieldError("quantity")}
        </div>
      </div>
      {errors.form && (
        <p role="alert" className="alert">
          {errors.form}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          Create order
        </button>
      </div>
    </form>
  );
}
