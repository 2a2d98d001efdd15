import { type KeyboardEvent, useEffect, useId, useState } from "react";
import type { User } from "../../../gen/switchboard/v1/user_pb.js";
import type { ActingUser } from "../acting-user.tsx";
import { useApi } from "../api.tsx";

interface UserPickerProps {
  label: string;
  value: ActingUser | null;
  onChange(user: User): void;
  placeholder?: string;
  className?: string;
}

const suggestions = 8;

/**
 * A combobox that finds users by name or email through ListUsers (its `query`), reading only
 * the first few matches and then cancelling the stream.
 */
export function UserPicker({ label, value, onChange, placeholder, className }: UserPickerProps) {
  const api = useApi();
  const id = useId();
  const listId = `${id}-list`;
  const [text, setText] = useState(value?.name ?? "");
  const [open, setOpen] = useState(false);
  const [options, setOptions] = useState<User[]>([]);
  const [active, setActive] = useState(0);
  const [searched, setSearched] = useState(false);

  useEffect(() => setText(value?.name ?? ""), [value]);

  useEffect(() => {
    if (!open) return;
    const controller = new AbortController();
    const timer = setTimeout(async () => {
      const found: User[] = [];
      try {
        const query = text === value?.name ? "" : text.trim();
        for await (const res of api.users.listUsers(
          { query, pageSize: suggestions },
          { signal: controller.signal },
        )) {
          if (res.user) found.push(res.user);
          if (found.length >= suggestions) break;
        }
      } catch {
        if (controller.signal.aborted) return;
      }
      setOptions(found);
      setActive(0);
      setSearched(true);
    }, 120);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [api, open, text, value]);

  const choose = (user: User) => {
    onChange(user);
    setText(user.name);
    setOpen(false);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      setOpen(true);
      setActive((i) => Math.min(i + 1, options.length - 1));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      setActive((i) => Math.max(i - 1, 0));
    } else if (e.key === "Enter" && open) {
      e.preventDefault();
      const user = options[active];
      if (user) choose(user);
    } else if (e.key === "Escape") {
      setOpen(false);
      setText(value?.name ?? "");
    }
  };

  return (
    <div className={`picker ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        role="combobox"
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && options[active] ? `${id}-${active}` : undefined}
        autoComplete="off"
        placeholder={placeholder ?? "Search by name or email"}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
        }}
        onFocus={(e) => {
          e.target.select();
          setOpen(true);
        }}
        onBlur={() => {
          setOpen(false);
          setText(value?.name ?? "");
        }}
        onKeyDown={onKeyDown}
      />
      {open && (
        <div className="picker-popup">
          <div role="listbox" id={listId} aria-label={`${label} suggestions`}>
            {options.map((user, i) => (
              // Focus stays in the input (aria-activedescendant); the mouse picks with a click.
              <div
                key={user.id}
                id={`${id}-${i}`}
                role="option"
                tabIndex={-1}
                aria-selected={i === active}
                onMouseDown={(e) => e.preventDefault()}
                onMouseEnter={() => setActive(i)}
                onClick={() => choose(user)}
                onKeyDown={onKeyDown}
              >
                <span className="picker-name">{user.name}</span>
                <span className="picker-email">{user.email}</span>
              </div>
            ))}
          </div>
          {searched && options.length === 0 && <p className="picker-empty">No matching users</p>}
        </div>
      )}
    </div>
  );
}
