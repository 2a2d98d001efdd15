import { useState } from "react";
import { ActingUserProvider, useActingUser } from "./acting-user.tsx";
import { ApiProvider, useApi } from "./api.tsx";
import { NotificationTray } from "./components/notification-tray.tsx";
import { UserPicker } from "./components/user-picker.tsx";
import { ChatPage } from "./pages/chat-page.tsx";
import { OrdersPage } from "./pages/orders-page.tsx";
import { UsersPage } from "./pages/users-page.tsx";
import { initialProtocol, type Protocol, protocols, saveProtocol } from "./protocol.ts";
import { Link, navigate, usePath } from "./router.tsx";
import { rememberUser } from "./user-names.ts";

export function App() {
  const [protocol, setProtocol] = useState<Protocol>(initialProtocol);
  const choose = (next: Protocol) => {
    saveProtocol(next);
    setProtocol(next);
  };
  return (
    <ApiProvider protocol={protocol}>
      <ActingUserProvider>
        <Shell protocol={protocol} onProtocol={choose} />
      </ActingUserProvider>
    </ApiProvider>
  );
}

type Route = { page: "users" } | { page: "orders" } | { page: "chat"; room: string } | { page: "missing" };

function route(path: string): Route {
  if (path === "/" || path === "/users") return { page: "users" };
  if (path === "/orders") return { page: "orders" };
  if (path === "/chat" || path === "/chat/") return { page: "chat", room: "general" };
  const room = /^\/chat\/([^/]+)$/.exec(path)?.[1];
  if (room !== undefined) return { page: "chat", room: decodeURIComponent(room) };
  return { page: "missing" };
}

function Shell({ protocol, onProtocol }: { protocol: Protocol; onProtocol(p: Protocol): void }) {
  const path = usePath();
  const current = route(path);
  const api = useApi();
  const acting = useActingUser();
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/users" className="brand">
          <svg viewBox="0 0 32 32" width="24" height="24" aria-hidden="true">
            <rect width="32" height="32" rx="8" fill="currentColor" />
            <path d="M9 11h14M9 16h9M9 21h12" stroke="#fff" strokeWidth="2.5" strokeLinecap="round" />
          </svg>
          Switchboard
        </Link>
        <nav aria-label="Main" className="mainnav">
          <Link to="/users" current={current.page === "users"}>
            Users
          </Link>
          <Link to="/orders" current={current.page === "orders"}>
            Orders
          </Link>
          <Link to="/chat/general" current={current.page === "chat"}>
            Chat
          </Link>
        </nav>
        <div className="topbar-tools">
          <UserPicker
            label="Acting as"
            className="picker-inline"
            placeholder="Choose a user"
            value={acting.user}
            onChange={(user) => {
              rememberUser(api, user);
              acting.setUser({ id: user.id, name: user.name, email: user.email });
            }}
          />
          <div className="protocol">
            <label htmlFor="protocol">Protocol</label>
            <select id="protocol" value={protocol} onChange={(e) => onProtocol(e.target.value as Protocol)}>
              {protocols.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.label}
                </option>
              ))}
            </select>
          </div>
          <NotificationTray />
        </div>
      </header>
      <main className="content">
        {current.page === "users" && <UsersPage />}
        {current.page === "orders" && <OrdersPage />}
        {current.page === "chat" && <ChatPage room={current.room} />}
        {current.page === "missing" && (
          <div className="page">
            <h1>Page not found</h1>
            <p>
              There is nothing at <code>{path}</code>.{" "}
              <button type="button" className="button button-small" onClick={() => navigate("/users")}>
                Go to Users
              </button>
            </p>
          </div>
        )}
      </main>
    </div>
  );
}
